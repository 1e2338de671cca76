#include "lvm/distributions/bernoulli.h"

#include <torch/torch.h>

namespace lvm {

Bernoulli::Bernoulli(torch::Tensor logits) : logits_(std::move(logits)) {
  TORCH_CHECK(logits_.dim() >= 1, "Bernoulli: expected logits of shape [..., D], got ", logits_.sizes());
}

torch::Tensor Bernoulli::sample(at::IntArrayRef shape) const {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> full(shape.begin(), shape.end());
  full.insert(full.end(), logits_.sizes().begin(), logits_.sizes().end());
  return torch::bernoulli(torch::sigmoid(logits_).expand(full));
}

torch::Tensor Bernoulli::log_prob(const torch::Tensor& value) const {
  // x·l − softplus(l) = x·log σ(l) + (1−x)·log(1−σ(l)), stable for any l.
  return (value * logits_ - torch::softplus(logits_)).sum(-1);
}

std::shared_ptr<Distribution> Bernoulli::detached() const {
  return std::make_shared<Bernoulli>(logits_.detach());
}

}  // namespace lvm
