#pragma once
// The global gradient norm, read once per step for the non-finite check and reused for clipping.

#include <vector>

#include <torch/types.h>

namespace lvm::train {

/// sqrt(Σ_p ||p.grad||²) over the parameters that have a gradient, as a 0-d double tensor on
/// their device (no host sync); 0 when none has one.
torch::Tensor gradient_norm(const std::vector<torch::Tensor>& parameters);

/// Scales every gradient by max_norm / (norm + 1e-6) when that is below 1, as
/// torch::nn::utils::clip_grad_norm_ does, given the norm gradient_norm() returned.
void clip_gradient_norm(const std::vector<torch::Tensor>& parameters, double norm, double max_norm);

}  // namespace lvm::train
