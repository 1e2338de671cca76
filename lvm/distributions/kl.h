#pragma once
// Analytic KL divergences KL(q || p), summed over the event: -> [batch...].

#include <optional>

#include "lvm/distributions/distribution.h"
#include "lvm/distributions/normal.h"

namespace lvm {

/// KL between diagonal Gaussians (parameters broadcast against each other).
torch::Tensor kl_divergence(const Normal& q, const Normal& p);
/// The same per dimension, not summed: [batch..., D] (free bits clamp it per dimension or group).
torch::Tensor kl_divergence_per_dim(const Normal& q, const Normal& p);

/// KL(q || p) when a closed form is known for the pair of types, std::nullopt otherwise.
std::optional<torch::Tensor> analytic_kl(const Distribution& q, const Distribution& p);
/// Per latent dimension, [batch..., D], for the pairs whose KL factorises over dimensions.
std::optional<torch::Tensor> analytic_kl_per_dim(const Distribution& q, const Distribution& p);

}  // namespace lvm
