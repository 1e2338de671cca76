#include "lvm/distributions/distribution.h"

#include <c10/util/Exception.h>

namespace lvm {

torch::Tensor Distribution::rsample(at::IntArrayRef /*shape*/) const {
  TORCH_CHECK(false, "this distribution has no reparameterised sampler (rsample)");
}

std::pair<torch::Tensor, torch::Tensor> Distribution::rsample_with_log_prob(at::IntArrayRef shape) const {
  auto z = rsample(shape);
  auto log_q = log_prob(z);
  return {std::move(z), std::move(log_q)};
}

}  // namespace lvm
