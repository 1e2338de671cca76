#include "lvm/distributions/distribution.h"

#include <c10/util/Exception.h>

namespace lvm {

torch::Tensor Distribution::rsample(at::IntArrayRef /*shape*/) const {
  TORCH_CHECK(false, "this distribution has no reparameterised sampler (rsample)");
}

}  // namespace lvm
