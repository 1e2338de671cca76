#pragma once
// Training objectives: lower bounds on log p(x) (or log p(x) itself where it is tractable) that a
// trainer maximises. Each returns the bound per example (the value logged: the bound itself, never
// a surrogate) and a scalar loss whose gradient is the estimator's.

#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include <torch/types.h>

#include "lvm/config/config.h"
#include "lvm/models/latent_variable_model.h"

namespace lvm {

struct ObjectiveResult {
  torch::Tensor value;  // [B] the bound per example, in nats (detached)
  torch::Tensor loss;   // scalar to minimise; backward() of it gives the gradient estimate
  /// Whether loss is a surrogate rather than −mean(value): a KL weight β ≠ 1 or free bits.
  bool surrogate = false;
  double kl_weight = 1;  // the β this step's loss used (1 for objectives without one)
  torch::Tensor rec;     // [B] E_q[log p(x|z)] where the objective defines it (ELBO), else undefined
  torch::Tensor kl;      // [B] KL(q(z|x) || p(z)), likewise
  /// Estimators whose parameter groups need different surrogates (DReG) fill this in; it then
  /// replaces loss.backward() and accumulates into each parameter's .grad().
  std::function<void()> custom_backward;

  void backward() const;
};

/// Where training is when the objective is called, for objectives whose loss follows a schedule
/// (a KL warm-up). step 0 means outside training: the schedule's end (thread tuning, tests).
struct TrainingClock {
  int64_t step = 0;             // global step, 1 for the first of the run
  int64_t steps_per_epoch = 1;  // steps in one epoch
};

/// A training objective: called with the model and a batch x [B, ...], and optionally with the
/// trainer's clock. Any callable (model, x) converts to one (it ignores the clock);
/// Objective::scheduled takes a callable (model, x, clock).
class Objective {
 public:
  using Scheduled =
      std::function<ObjectiveResult(LatentVariableModel&, const torch::Tensor&, const TrainingClock&)>;

  Objective() = default;
  template <typename F,
            typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Objective> &&
                                        std::is_invocable_r_v<ObjectiveResult, F&, LatentVariableModel&,
                                                              const torch::Tensor&>>>
  Objective(F f)  // NOLINT(google-explicit-constructor): lambdas and functions convert, as to std::function
      : fn_([f = std::move(f)](LatentVariableModel& model, const torch::Tensor& x,
                               const TrainingClock&) mutable { return f(model, x); }) {}
  static Objective scheduled(Scheduled fn) {
    Objective objective;
    objective.fn_ = std::move(fn);
    return objective;
  }

  ObjectiveResult operator()(LatentVariableModel& model, const torch::Tensor& x,
                             const TrainingClock& clock = {}) const {
    return fn_(model, x, clock);
  }
  explicit operator bool() const { return static_cast<bool>(fn_); }

 private:
  Scheduled fn_;
};

enum class KlMode { kAnalytic, kMonteCarlo };

/// How the ELBO's KL term enters the training loss at one step (β-VAE, free bits). The value
/// reported stays the ELBO (β = 1, no free bits); only the loss changes:
///   loss = −[ mean_b rec_b − β Σ_g max(λ, mean_b KL_{b,g}) ]
/// over groups g of free_bits_group consecutive latent dimensions (λ = free_bits; with λ = 0 the
/// sum is mean_b KL_b). Free bits (Kingma et al. 2016) need the per-dimension KL in closed form.
struct KlPenalty {
  double weight = 1;            // β
  double free_bits = 0;         // λ, nats per group
  int64_t free_bits_group = 1;  // latent dimensions per group

  bool is_plain() const { return weight == 1 && free_bits == 0; }
};

/// β at `clock` for a linear warm-up from 0 to `weight` over `warmup_epochs` epochs, by step:
/// weight · min(1, step / (warmup_epochs · steps_per_epoch)); `weight` when warmup_epochs is 0 or
/// the clock is outside training (step 0).
double warmed_up_kl_weight(double weight, int64_t warmup_epochs, const TrainingClock& clock);

/// ELBO averaged over k reparameterised samples per example ("VAE with k samples"):
/// value = (1/k) Σ_k log p(x|z_k) − KL, KL analytic where known (falling back to Monte Carlo),
/// else (1/k) Σ_k [log q(z_k|x) − log p(z_k)]. x: [B, D]. `penalty` shapes the loss only.
ObjectiveResult elbo(LatentVariableModel& model, const torch::Tensor& x, int64_t k = 1,
                     KlMode kl_mode = KlMode::kAnalytic, const KlPenalty& penalty = {});

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

/// The objective keys of a model trained on a bound (model.objective, k, kl, iwae_gradient, and the
/// ELBO's KL options): a model's options inherit them and add visit_objective_fields to their table.
struct ObjectiveConfig {
  std::string objective = "elbo";          // elbo | iwae
  int64_t k = 1;                           // samples per example
  std::string kl = "analytic";             // analytic | mc
  std::string iwae_gradient = "standard";  // standard | dreg
  double kl_weight = 1;                    // β of the ELBO's KL term in the loss (β-VAE)
  int64_t kl_warmup_epochs = 0;            // β rises linearly from 0 over these epochs (0: off)
  double free_bits = 0;                    // λ nats per latent group (0: off)
  int64_t free_bits_group = 1;             // latent dimensions per free-bits group

  void visit_objective_fields(config::FieldVisitor& v);
  /// These keys: they change training, not the network (ModelOptions::training_keys).
  static std::vector<std::string> objective_keys() {
    return {"objective",      "k", "kl", "iwae_gradient", "kl_weight", "kl_warmup_epochs", "free_bits",
            "free_bits_group"};
  }
  /// Cross-key rules (dreg needs iwae; the KL options need elbo; free bits need an analytic KL
  /// and groups that divide `latent_dim`); key paths are "model.<key>".
  void check_objective(const config::RuleContext& context, int64_t latent_dim = 0) const;
};

/// The objective the keys ask for.
Objective make_objective(const ObjectiveConfig& config);

}  // namespace lvm
