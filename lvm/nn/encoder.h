#pragma once
// Amortised inference network q_φ(z|x): an MLP whose output is split into the mean and the
// log-variance of a diagonal Gaussian.

#include "lvm/distributions/normal.h"
#include "lvm/export/script_part.h"
#include "lvm/nn/mlp.h"

namespace lvm::nn {

class GaussianEncoderImpl : public torch::nn::Module {
 public:
  GaussianEncoderImpl(int64_t input_dim, std::vector<int64_t> hidden, int64_t latent_dim,
                      std::string activation);
  /// x: [B, D] -> q(z|x) with mean, log_var [B, Z]
  Normal forward(const torch::Tensor& x);
  /// forward(x) with the weights detached (gradients reach x only), for DReG.
  Normal forward_with_stopped_weights(const torch::Tensor& x);
  int64_t latent_dim() const { return latent_dim_; }
  /// This encoder as an exported proposal part (contract in lvm/export/script_part.h).
  torchscript::ScriptedPart script();

 private:
  int64_t latent_dim_;
  Mlp net_{nullptr};
};
TORCH_MODULE(GaussianEncoder);

}  // namespace lvm::nn
