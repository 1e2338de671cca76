#pragma once
// Estimators of log p(x), as free functions over the LatentVariableModel interface (they never
// look inside a model):
//   exact                 log p(x) in closed form, for models that have one
//   prior sampling        log (1/K) Σ_k p(x|z_k),                      z_k ~ p(z)
//   importance sampling   log (1/K) Σ_k p(z_k) p(x|z_k) / q(z_k|x),    z_k ~ q(z|x): the IWAE bound L_K
//   ELBO                  E_q[log p(x|z)] − KL(q(z|x) || p(z)), KL analytic where it exists
// The sampling estimators draw their K samples `chunk` at a time and combine the chunks with an
// exact streaming log-sum-exp, so memory is bounded by the chunk, however large K is. They run
// without gradients. Values are per example, in nats, double precision.

#include <cstdint>
#include <memory>

#include <torch/arg.h>
#include <torch/types.h>

#include "lvm/distributions/distribution.h"
#include "lvm/models/latent_variable_model.h"

namespace lvm::estimators {

struct Estimate {
  torch::Tensor log_px;  // [B] the estimate of log p(x) (a lower bound in expectation for IS / ELBO)
  torch::Tensor ess;     // [B] effective sample size of the importance weights (sampling estimators)
  torch::Tensor rec;     // [B] (1/K) Σ_k log p(x|z_k): the reconstruction term (sampling estimators)
  torch::Tensor kl;      // [B] KL(q || p(z)) (ELBO; analytic, or (1/K) Σ_k log q(z_k|x) − log p(z_k))
  /// [B] (1/K) Σ_k log w_k: the Monte Carlo ELBO of the proposal (importance sampling)
  torch::Tensor mean_log_weight;
};

/// Samples per chunk; 0 means all K at once. On CPU each chunk's samples are split over up to
/// `workers` threads, each slice through the model with single-threaded LibTorch and BLAS (0: the
/// larger of runtime::current_split()'s two pools; 1: one call per chunk). A chunk is split only
/// into slices of at least 512 rows (samples x examples). The draws do not depend on it and the
/// results only up to float rounding. The model's log_likelihood is then called from several
/// threads at once, on disjoint samples; the process's thread split changes while a chunk is
/// split, so these functions must not run concurrently with other LibTorch work.
struct SamplingOptions {
  SamplingOptions(int64_t k = 1, int64_t chunk = 0) : k_(k), chunk_(chunk) {}
  TORCH_ARG(int64_t, k);
  TORCH_ARG(int64_t, chunk);
  TORCH_ARG(int64_t, workers) = 0;  // at most 1024
};

/// Closed-form log p(x): x [B, D] -> log_px [B]. Throws std::invalid_argument when the model has
/// none.
Estimate exact(LatentVariableModel& model, const torch::Tensor& x);

/// Prior sampling: x [B, D] -> [B]. Unbiased for p(x), hopeless in many dimensions (the prior
/// rarely lands where p(x|z) is large); a baseline that shows what the proposal buys.
Estimate prior_sampling(LatentVariableModel& model, const torch::Tensor& x, const SamplingOptions& options);

/// Importance sampling with the model's proposal q(z|x) (throws if it has none): x [B, D] -> [B].
/// With K = 1 it is the ELBO with a Monte Carlo KL; it rises with K towards log p(x).
Estimate importance_sampling(LatentVariableModel& model, const torch::Tensor& x,
                             const SamplingOptions& options);
/// The same with a given proposal of batch shape [B] (e.g. a per-example refined q).
Estimate importance_sampling(LatentVariableModel& model, const torch::Tensor& x, const Distribution& proposal,
                             const SamplingOptions& options);

/// ELBO of the model's proposal with the reconstruction term averaged over K samples and the KL
/// analytic where a closed form exists (Monte Carlo over the same samples otherwise): x [B, D] -> [B].
Estimate elbo(LatentVariableModel& model, const torch::Tensor& x, const SamplingOptions& options);
/// The same for a given proposal of batch shape [B].
Estimate elbo(LatentVariableModel& model, const torch::Tensor& x, const Distribution& proposal,
              const SamplingOptions& options);

/// The ELBO from an importance-sampling pass with the same proposal (no new decoder evaluations):
/// rec from the pass, KL analytic where possible, else rec − mean_log_weight.
Estimate elbo_from(const Estimate& importance, LatentVariableModel& model, const Distribution& proposal);

/// Mean and spread of per-example values over a split.
struct Summary {
  int64_t n = 0;
  double mean = 0;
  double std_error = 0;  // sample standard deviation / sqrt(n); 0 for n < 2
};
/// values: [N] -> Summary (non-finite values propagate into the mean).
Summary summarize(const torch::Tensor& values);

/// Active units (Burda et al. 2016): dimension i is active when Cov_x(E_q[z_i|x]) > threshold,
/// the variance over examples taken with divisor N.
struct ActiveUnits {
  int64_t count = 0;
  torch::Tensor variance;  // [Z] Var_x(E_q[z_i|x]), double
  /// A hierarchy's latent groups (its layers) in the order z holds them, with the active units
  /// of each; empty for a latent of one group.
  std::vector<int64_t> group_sizes;
  std::vector<int64_t> group_counts;
};
/// images: [N, D] -> ActiveUnits, in batches; uses the proposal's mean. Throws if the model has no
/// proposal.
ActiveUnits active_units(LatentVariableModel& model, const torch::Tensor& images, int64_t batch_size,
                         double threshold = 0.01);

}  // namespace lvm::estimators
