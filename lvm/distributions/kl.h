#pragma once
// Analytic KL divergences KL(q || p), summed over the event: -> [batch...].

#include <optional>

#include "lvm/distributions/distribution.h"
#include "lvm/distributions/normal.h"

namespace lvm {

/// KL between diagonal Gaussians (parameters broadcast against each other).
torch::Tensor kl_divergence(const Normal& q, const Normal& p);

/// KL(q || p) when a closed form is known for the pair of types, std::nullopt otherwise.
std::optional<torch::Tensor> analytic_kl(const Distribution& q, const Distribution& p);

}  // namespace lvm
