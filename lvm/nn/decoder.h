#pragma once
// Generative networks p_θ(x|z). Output contract: forward(z) returns the distribution over x with
// batch shape z's leading dims; log_likelihood(x, z) gives log p_θ(x|z) without building more
// than it needs.

#include <memory>

#include "lvm/distributions/bernoulli.h"
#include "lvm/distributions/normal.h"
#include "lvm/export/script_part.h"
#include "lvm/nn/mlp.h"

namespace lvm::nn {

class DecoderImpl : public torch::nn::Module {
 public:
  /// z: [S..., Z] -> p(x|z) over [S..., D]
  virtual std::shared_ptr<Distribution> forward(const torch::Tensor& z) = 0;
  /// x: [B, D], z: [K, B, Z] -> [K, B]
  virtual torch::Tensor log_likelihood(const torch::Tensor& x, const torch::Tensor& z) = 0;
  /// This decoder as an exported decoder part (contract in lvm/export/script_part.h). By default
  /// a decoder has none: export then says so.
  virtual torchscript::ScriptedPart script();
};

/// Bernoulli pixels with logits from an MLP (for binary data).
class BernoulliDecoderImpl : public DecoderImpl {
 public:
  BernoulliDecoderImpl(int64_t latent_dim, std::vector<int64_t> hidden, int64_t data_dim,
                       std::string activation);
  std::shared_ptr<Distribution> forward(const torch::Tensor& z) override;
  /// Without gradients (evaluation) and for x [B, D], z [K, B, Z], the fused form of
  /// lvm/nn/fused_bernoulli.h, a block of samples at a time; otherwise Bernoulli(logits).log_prob.
  torch::Tensor log_likelihood(const torch::Tensor& x, const torch::Tensor& z) override;
  /// z: [S..., Z] -> logits [S..., D]
  torch::Tensor logits(const torch::Tensor& z) { return net_->forward(z); }
  /// Adds decode(z) (probabilities) and decode_logits(z) to the owner.
  torchscript::ScriptedPart script() override;

 private:
  Mlp net_{nullptr};
};

/// Gaussian pixels: the mean from an MLP, one learned log-variance per dimension (shared by all
/// z), for continuous data.
class GaussianDecoderImpl : public DecoderImpl {
 public:
  GaussianDecoderImpl(int64_t latent_dim, std::vector<int64_t> hidden, int64_t data_dim,
                      std::string activation);
  std::shared_ptr<Distribution> forward(const torch::Tensor& z) override;
  torch::Tensor log_likelihood(const torch::Tensor& x, const torch::Tensor& z) override;
  const torch::Tensor& log_var() const { return log_var_; }
  /// Adds decode(z) -> (mean, log_var) to the owner.
  torchscript::ScriptedPart script() override;

 private:
  Mlp net_{nullptr};
  torch::Tensor log_var_;  // [D]
};

}  // namespace lvm::nn
