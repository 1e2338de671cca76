#include "lvm/nn/encoder.h"

#include <torch/torch.h>

namespace lvm::nn {

GaussianEncoderImpl::GaussianEncoderImpl(int64_t input_dim, std::vector<int64_t> hidden, int64_t latent_dim,
                                         std::string activation)
    : latent_dim_(latent_dim) {
  net_ = register_module(
      "net", Mlp(MlpOptions(input_dim, std::move(hidden), 2 * latent_dim).activation(activation)));
}

Normal GaussianEncoderImpl::forward(const torch::Tensor& x) {
  auto out = net_->forward(x);
  auto parts = out.chunk(2, -1);
  return Normal(parts[0], parts[1]);
}

}  // namespace lvm::nn
