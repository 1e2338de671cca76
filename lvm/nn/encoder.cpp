#include "lvm/nn/encoder.h"

#include <torch/script.h>
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

Normal GaussianEncoderImpl::forward_with_stopped_weights(const torch::Tensor& x) {
  auto parts = net_->forward_with_stopped_weights(x).chunk(2, -1);
  return Normal(parts[0], parts[1]);
}

torchscript::ScriptedPart GaussianEncoderImpl::script() {
  torchscript::ScriptedPart part;
  part.module = torchscript::new_part_module("MlpGaussianEncoder");
  part.module.define(net_->script_into(part.module) + R"(
def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
    parts = self._net(x).chunk(2, -1)
    return parts[0], parts[1]
)");
  part.string_attributes = {{"activation", net_->options().activation()}};
  part.max_width = net_->max_width();
  return part;
}

}  // namespace lvm::nn
