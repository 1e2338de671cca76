#pragma once
// Training objectives: lower bounds on log p(x) (or log p(x) itself where it is tractable) that a
// trainer maximises. Each returns the bound per example (the value logged: the bound itself, never
// a surrogate) and a scalar loss whose gradient is the estimator's.

#include <functional>
#include <string>

#include <torch/types.h>

#include "lvm/config/config.h"
#include "lvm/models/latent_variable_model.h"

namespace lvm {

struct ObjectiveResult {
  torch::Tensor value;  // [B] the bound per example, in nats (detached)
  torch::Tensor loss;   // scalar to minimise; backward() of it gives the gradient estimate
  torch::Tensor rec;    // [B] E_q[log p(x|z)] where the objective defines it (ELBO), else undefined
  torch::Tensor kl;     // [B] KL(q(z|x) || p(z)), likewise
  /// Estimators whose parameter groups need different surrogates (DReG) fill this in; it then
  /// replaces loss.backward() and accumulates into each parameter's .grad().
  std::function<void()> custom_backward;

  void backward() const;
};

using Objective = std::function<ObjectiveResult(LatentVariableModel& model, const torch::Tensor& x)>;

enum class KlMode { kAnalytic, kMonteCarlo };

/// ELBO averaged over k reparameterised samples per example ("VAE with k samples"):
/// value = (1/k) Σ_k log p(x|z_k) − KL, KL analytic where known (falling back to Monte Carlo),
/// else (1/k) Σ_k [log q(z_k|x) − log p(z_k)]. x: [B, D].
ObjectiveResult elbo(LatentVariableModel& model, const torch::Tensor& x, int64_t k = 1,
                     KlMode kl_mode = KlMode::kAnalytic);

enum class IwaeGradient { kStandard, kDreg };

/// The importance-weighted bound L_k = log (1/k) Σ_k p(x, z_k) / q(z_k|x) (Burda et al. 2016);
/// L_1 is the ELBO with a Monte Carlo KL. kDreg uses the doubly reparameterised gradient of
/// Tucker et al. 2019 for the proposal's parameters (same expectation, lower variance).
ObjectiveResult iwae(LatentVariableModel& model, const torch::Tensor& x, int64_t k,
                     IwaeGradient gradient = IwaeGradient::kStandard);

/// The exact log-likelihood log p(x), for models where it is tractable (a discrete latent with few
/// values, e.g. a Gaussian mixture): value = exact_log_marginal(x), loss = −mean. x: [B, D].
/// Throws std::invalid_argument for a model without an exact marginal.
ObjectiveResult exact_log_likelihood(LatentVariableModel& model, const torch::Tensor& x);

/// The objective keys of a model trained on a bound (model.objective, k, kl, iwae_gradient): a
/// model's options inherit them and add visit_objective_fields to their table.
struct ObjectiveConfig {
  std::string objective = "elbo";          // elbo | iwae
  int64_t k = 1;                           // samples per example
  std::string kl = "analytic";             // analytic | mc
  std::string iwae_gradient = "standard";  // standard | dreg

  void visit_objective_fields(config::FieldVisitor& v);
  /// Cross-key rules (dreg needs iwae); key paths are "model.<key>".
  void check_objective(const config::RuleContext& context) const;
};

/// The objective the keys ask for.
Objective make_objective(const ObjectiveConfig& config);

}  // namespace lvm
