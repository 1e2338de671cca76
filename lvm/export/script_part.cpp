#include "lvm/export/script_part.h"

#include <stdexcept>

#include <torch/script.h>
#include <torch/torch.h>

namespace lvm::torchscript {

torch::jit::Module new_part_module(const std::string& class_name) {
  return torch::jit::Module(c10::QualifiedName("__torch__.lvm." + class_name));
}

void add_weight(torch::jit::Module& module, const std::string& name, const torch::Tensor& value) {
  module.register_parameter(name, value.detach().to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true),
                            /*is_buffer=*/false);
}

void add_reference(torch::jit::Module& module, torch::Dtype dtype) {
  module.register_buffer("reference", torch::empty({0}, torch::TensorOptions().dtype(dtype)));
}

std::string activation_call(const std::string& activation, const std::string& argument) {
  // Defaults of these ATen ops are those of torch::nn::{Tanh, ReLU, ELU, Softplus}.
  if (activation == "tanh") return "torch.tanh(" + argument + ")";
  if (activation == "relu") return "torch.relu(" + argument + ")";
  if (activation == "elu") return "torch.elu(" + argument + ")";
  if (activation == "softplus") return "torch.softplus(" + argument + ")";
  throw std::invalid_argument("export: no TorchScript for activation '" + activation + "'");
}

std::string input_check_methods() {
  return R"(
def _check_x(self, x: Tensor) -> Tensor:
    if x.dim() > 2:
        x = x.flatten(1)
    assert x.dim() == 2 and x.size(1) == self.data_dim, "expected x of shape [B, " + str(self.data_dim) + "] or [B, *input_shape], got " + str(x.shape)
    assert x.is_floating_point(), "expected floating-point x, got dtype " + str(x.dtype)
    return x.to(self.reference.dtype)

def _check_z(self, z: Tensor) -> Tensor:
    assert z.dim() >= 1 and z.size(-1) == self.latent_dim, "expected z of shape [..., " + str(self.latent_dim) + "], got " + str(z.shape)
    return z.to(self.reference.dtype)
)";
}

std::string normal_methods() {
  return with_constants(R"(
def _normal_log_prob(self, x: Tensor, mean: Tensor, log_var: Tensor) -> Tensor:
    return -0.5 * ((x - mean).pow(2) * torch.exp(-log_var) + log_var + LOG2PI).sum(-1)

def _normal_rsample(self, mean: Tensor, log_var: Tensor, s: int) -> Tensor:
    shape = [s]
    for n in mean.shape:
        shape.append(n)
    eps = torch.randn(shape, dtype=mean.dtype, device=mean.device)
    return mean + eps * torch.exp(0.5 * log_var)
)");
}

std::string importance_sampling_methods() {
  return R"(
def log_likelihood(self, x: Tensor, k: int, chunk_size: int = 0) -> Tensor:
    assert k >= 1, "log_likelihood: expected k >= 1, got " + str(k)
    assert chunk_size >= 0, "log_likelihood: expected chunk_size >= 0, got " + str(chunk_size)
    x = self._check_x(x)
    mean, log_var = self.encoder.forward(x)
    b = x.size(0)
    chunk = chunk_size
    if chunk == 0:
        chunk = max(1, self.chunk_elements // max(1, b * self.max_width))
    chunk = min(chunk, k)
    total = torch.full([b], float("-inf"), dtype=mean.dtype, device=mean.device)
    done = 0
    while done < k:
        s = min(chunk, k - done)
        total = torch.logaddexp(total, torch.logsumexp(self._log_weights(x, mean, log_var, s), 0))
        done += s
    return total - torch.log(k)
)";
}

std::string bernoulli_methods() {
  // x·l − softplus(l) = log Bernoulli(x; σ(l)), stable for any l (lvm/distributions/bernoulli.cpp).
  return R"(
def _bernoulli_log_prob(self, x: Tensor, logits: Tensor) -> Tensor:
    return (x * logits - torch.softplus(logits)).sum(-1)
)";
}

std::string with_constants(std::string source) {
  static const std::string kName = "LOG2PI";
  static const std::string kLog2Pi = "1.8378770664093456";
  for (size_t at = source.find(kName); at != std::string::npos; at = source.find(kName, at))
    source.replace(at, kName.size(), kLog2Pi);
  return source;
}

ScriptedPart standard_normal_prior_script(int64_t latent_dim, torch::Dtype dtype) {
  ScriptedPart part;
  part.module = new_part_module("StandardNormalPrior");
  add_reference(part.module, dtype);
  part.module.register_attribute("latent_dim", c10::IntType::get(), latent_dim);
  part.module.define(with_constants(R"(
def log_prob(self, z: Tensor) -> Tensor:
    return -0.5 * (z.pow(2) + LOG2PI).sum(-1)

def sample(self, n: int) -> Tensor:
    assert n >= 0, "expected n >= 0, got " + str(n)
    r = self.reference
    return torch.randn([n, self.latent_dim], dtype=r.dtype, device=r.device)

def kl(self, mean: Tensor, log_var: Tensor) -> Tensor:
    return 0.5 * (torch.exp(log_var) + mean.pow(2) - 1.0 - log_var).sum(-1)
)"));
  part.max_width = latent_dim;
  return part;
}

}  // namespace lvm::torchscript
