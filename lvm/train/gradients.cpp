#include "lvm/train/gradients.h"

#include <torch/torch.h>

namespace lvm::train {

torch::Tensor gradient_norm(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> norms;
  norms.reserve(parameters.size());
  for (const auto& p : parameters)
    if (p.grad().defined()) norms.push_back(p.grad().norm().to(torch::kDouble));
  // On the parameters' device: the trainer stacks it with the loss for its one read per step.
  if (norms.empty())
    return torch::zeros({}, parameters.empty() ? torch::TensorOptions(torch::kDouble)
                                               : parameters.front().options().dtype(torch::kDouble));
  return torch::stack(norms).norm();
}

void clip_gradient_norm(const std::vector<torch::Tensor>& parameters, double norm, double max_norm) {
  const double scale = max_norm / (norm + 1e-6);
  if (scale >= 1) return;
  torch::NoGradGuard no_grad;
  for (const auto& p : parameters)
    if (p.grad().defined()) p.grad().mul_(scale);
}

}  // namespace lvm::train
