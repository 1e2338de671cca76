#include "lvm/nn/decoder.h"

#include <algorithm>
#include <stdexcept>

#include <torch/script.h>
#include <torch/torch.h>

#include "lvm/nn/fused_bernoulli.h"

namespace lvm::nn {
namespace {
// Samples x examples per block of the fused evaluation path: bounds the hidden activations
// ([rows, H] floats: 26 MB for H = 400) whatever the number of samples asked for, while keeping the
// per-block product xW (2 D H flops per example) under 1% of the block's work at B = 100.
constexpr int64_t kRowsPerBlock = 16384;
}  // namespace

BernoulliDecoderImpl::BernoulliDecoderImpl(int64_t latent_dim, std::vector<int64_t> hidden, int64_t data_dim,
                                           std::string activation) {
  net_ =
      register_module("net", Mlp(MlpOptions(latent_dim, std::move(hidden), data_dim).activation(activation)));
}

std::shared_ptr<Distribution> BernoulliDecoderImpl::forward(const torch::Tensor& z) {
  return std::make_shared<Bernoulli>(net_->forward(z));
}

torch::Tensor BernoulliDecoderImpl::log_likelihood(const torch::Tensor& x, const torch::Tensor& z) {
  // Training: the logits' graph, with the likelihood's own fused backward pass. Evaluation takes
  // the blocked form below, which never holds all logits at once.
  if (torch::GradMode::is_enabled() || x.dim() != 2 || z.dim() != 3 || z.size(1) != x.size(0) ||
      z.size(0) == 0) {
    return bernoulli_log_prob(net_->forward(z), x);
  }
  const auto& output = net_->output_layer();
  const int64_t batch = std::max<int64_t>(1, x.size(0));
  // Equal blocks (327 samples as 164 + 163, not 163 + 163 + 1): no tiny last block.
  const int64_t max_samples = std::max<int64_t>(1, kRowsPerBlock / batch);
  const int64_t blocks = (z.size(0) + max_samples - 1) / max_samples;
  const int64_t samples_per_block = (z.size(0) + blocks - 1) / blocks;
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < z.size(0); start += samples_per_block) {
    const auto block = z.narrow(0, start, std::min(samples_per_block, z.size(0) - start));
    parts.push_back(bernoulli_linear_log_likelihood(x, net_->hidden(block), output->weight, output->bias));
  }
  return parts.size() == 1 ? parts.front() : torch::cat(parts);
}

GaussianDecoderImpl::GaussianDecoderImpl(int64_t latent_dim, std::vector<int64_t> hidden, int64_t data_dim,
                                         std::string activation) {
  net_ =
      register_module("net", Mlp(MlpOptions(latent_dim, std::move(hidden), data_dim).activation(activation)));
  log_var_ = register_parameter("log_var", torch::zeros({data_dim}));
}

std::shared_ptr<Distribution> GaussianDecoderImpl::forward(const torch::Tensor& z) {
  return std::make_shared<Normal>(net_->forward(z), log_var_);
}

torch::Tensor GaussianDecoderImpl::log_likelihood(const torch::Tensor& x, const torch::Tensor& z) {
  return Normal(net_->forward(z), log_var_).log_prob(x);
}

torchscript::ScriptedPart DecoderImpl::script() {
  throw std::invalid_argument("export: this model's decoder (" + name() +
                              ") has no TorchScript form (it does not override DecoderImpl::script)");
}

torchscript::ScriptedPart BernoulliDecoderImpl::script() {
  torchscript::ScriptedPart part;
  part.module = torchscript::new_part_module("MlpBernoulliDecoder");
  part.module.define(net_->script_into(part.module) + torchscript::bernoulli_methods() + R"(
def params(self, z: Tensor) -> Tensor:
    return self._net(z)

def log_prob(self, x: Tensor, z: Tensor) -> Tensor:
    return self._bernoulli_log_prob(x, self._net(z))

def mean(self, z: Tensor) -> Tensor:
    return torch.sigmoid(self._net(z))

def sample(self, z: Tensor) -> Tensor:
    return torch.bernoulli(torch.sigmoid(self._net(z)))
)");
  part.facade_source = R"(
def decode_logits(self, z: Tensor) -> Tensor:
    return self.decoder.params(self._check_z(z))

def decode(self, z: Tensor) -> Tensor:
    return self.decoder.mean(self._check_z(z))
)";
  part.facade_methods = {"decode", "decode_logits"};
  part.string_attributes = {{"likelihood", "bernoulli"}};
  part.max_width = net_->max_width();
  return part;
}

torchscript::ScriptedPart GaussianDecoderImpl::script() {
  torchscript::ScriptedPart part;
  part.module = torchscript::new_part_module("MlpGaussianDecoder");
  torchscript::add_weight(part.module, "log_var", log_var_);
  part.module.define(net_->script_into(part.module) + torchscript::normal_methods() + R"(
def params(self, z: Tensor) -> Tensor:
    return self._net(z)

def log_prob(self, x: Tensor, z: Tensor) -> Tensor:
    return self._normal_log_prob(x, self._net(z), self.log_var)

def mean(self, z: Tensor) -> Tensor:
    return self._net(z)

def sample(self, z: Tensor) -> Tensor:
    mean = self._net(z)
    eps = torch.randn(mean.shape, dtype=mean.dtype, device=mean.device)
    return mean + eps * torch.exp(0.5 * self.log_var)
)");
  part.facade_source = R"(
def decode(self, z: Tensor) -> Tuple[Tensor, Tensor]:
    mean = self.decoder.mean(self._check_z(z))
    return mean, self.decoder.log_var.expand_as(mean)
)";
  part.facade_methods = {"decode"};
  part.string_attributes = {{"likelihood", "gaussian"}};
  part.max_width = net_->max_width();
  return part;
}

}  // namespace lvm::nn
