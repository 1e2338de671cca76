#pragma once
// The amortisation gap (Cremer, Li & Duvenaud 2018): how much of the ELBO's distance to log p(x)
// comes from the encoder having to serve every x (amortisation) rather than from the
// variational family itself (approximation). A separate diagonal Gaussian q(z) per example,
// started from the encoder's q(z|x) and fitted by Adam on its own ELBO, approaches the best
// member of the family:
//   amortisation gap  = ELBO(refined q) − ELBO(encoder q)
//   approximation gap = log p(x) − ELBO(refined q)

#include <cstdint>

#include <torch/arg.h>

#include "lvm/distributions/normal.h"
#include "lvm/models/latent_variable_model.h"

namespace lvm::estimators {

struct RefineOptions {
  RefineOptions(int64_t steps = 100) : steps_(steps) {}  // NOLINT(google-explicit-constructor)
  /// Adam steps on the ELBO of every example's q at once.
  TORCH_ARG(int64_t, steps);
  /// Initial learning rate; it decays to 0 on a cosine over the steps, so that the last iterate
  /// settles instead of jittering with the gradient noise.
  TORCH_ARG(double, lr) = 1e-2;
  /// Reparameterised samples per example for each step's ELBO gradient.
  TORCH_ARG(int64_t, samples) = 1;
};

/// x: [B, D] -> q(z) with mean, log_var [B, Z], one free Gaussian per example (a [B, Z]
/// parameter pair optimised jointly; the examples do not interact). The model's proposal must be
/// a diagonal Normal; the model's own parameters are left untouched (no gradients accumulate in
/// them).
Normal refine_proposal(LatentVariableModel& model, const torch::Tensor& x, const RefineOptions& options);

}  // namespace lvm::estimators
