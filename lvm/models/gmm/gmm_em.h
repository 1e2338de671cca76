#pragma once
// Fitting a GaussianMixture: initialisation (k-means++ seeding then Lloyd's k-means, or random
// points) and expectation-maximisation with closed-form M-steps. The M-step covariance is the
// responsibility-weighted scatter + reg_covar·I (as scikit-learn's), so with reg_covar > 0 no
// component collapses and every quantity stays finite; the log-likelihood never decreases
// from one EM step to the next (up to rounding).
//
// Degenerate data: fewer points than components is an error; a component left without
// responsibility keeps its mean, gets covariance reg_covar·I and a weight of ~1e-15 / N (so its
// logit stays finite); all points equal gives every component on that point with covariance
// reg_covar·I.

#include <cstdint>
#include <functional>
#include <string>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "lvm/models/gmm/gaussian_mixture.h"

namespace lvm {

enum class GmmInit { kKmeansPlusPlus, kRandom };

/// "kmeans++" | "random"; throws std::invalid_argument otherwise.
GmmInit parse_gmm_init(const std::string& name);

/// k-means++ seeding (Arthur & Vassilvitskii 2007), greedy variant: the first centre is a point
/// chosen uniformly; each further centre is the best of `trials` candidates drawn with probability
/// ∝ squared distance to the nearest centre so far, the one that lowers the potential
/// Σ_n min_k |x_n − c_k|² most. trials 0: 2 + ⌊ln K⌋ (as scikit-learn's KMeans); trials 1: plain
/// k-means++. x [N, D] -> centres [K, D], rows of x. Throws std::invalid_argument when N < K or
/// trials < 0.
torch::Tensor kmeans_plus_plus(const torch::Tensor& x, int64_t k, at::Generator generator,
                               int64_t trials = 0);

struct KmeansResult {
  torch::Tensor centres;  // [K, D]
  torch::Tensor labels;   // [N] int64, index of the nearest centre
  int64_t iterations = 0;
};

/// Lloyd's algorithm from `centres` [K, D] until no label changes, the centres move less than
/// `tol` (as scikit-learn's KMeans: Σ_k |Δc_k|² <= tol · mean per-dimension variance of x), or
/// `max_iterations`; an empty cluster keeps its centre.
KmeansResult kmeans(const torch::Tensor& x, torch::Tensor centres, int64_t max_iterations = 100,
                    double tol = 1e-4);

/// Closed-form M-step from responsibilities resp [N, K] (rows sum to 1) for x [N, D]:
/// N_k = Σ_n r_nk, π_k = N_k / N, μ_k = Σ_n r_nk x_n / N_k, Σ_k = Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ / N_k
/// + reg_covar·I (diagonal / averaged for the diag / spherical types).
void m_step(GaussianMixture& model, const torch::Tensor& x, const torch::Tensor& resp);

/// Sets the model's parameters from data: kmeans++ (k-means++ seeds, Lloyd's k-means, then an
/// M-step from the hard assignment) or random (K distinct points chosen uniformly as means, the
/// data's covariance for every component, equal weights). Deterministic given `seed`.
/// Throws std::invalid_argument when x has fewer rows than the model has components or holds
/// non-finite values.
void initialize_gmm(GaussianMixture& model, const torch::Tensor& x, GmmInit init, uint64_t seed);

struct EmOptions {
  int64_t max_steps = 100;
  /// Stop when one step raises the mean log-likelihood (nats per point) by less than this.
  double tol = 1e-3;
  /// Rows per chunk in the E-step (memory ~ chunk·K·D values); 0: GaussianMixture::rows_per_chunk().
  int64_t chunk_size = 0;
};

struct EmStep {
  int64_t step = 0;                // 1-based count of M-steps done
  double mean_log_likelihood = 0;  // after this step, nats per point
  double improvement = 0;          // over the previous step
};

struct EmResult {
  int64_t steps = 0;
  bool converged = false;
  double initial_mean_log_likelihood = 0;  // before the first M-step
  double mean_log_likelihood = 0;          // of the final parameters
};

/// EM from the model's current parameters: each step is an M-step from the current
/// responsibilities followed by an E-step (mean log-likelihood and new responsibilities).
/// `on_step` sees every step. Throws std::invalid_argument for input that cannot be fitted.
EmResult fit_em(GaussianMixture& model, const torch::Tensor& x, const EmOptions& options = {},
                const std::function<void(const EmStep&)>& on_step = {});

/// Mean of log p(x_n) over the rows of x [N, D], in chunks of model.rows_per_chunk(), without
/// gradients.
double mean_log_likelihood(GaussianMixture& model, const torch::Tensor& x);

}  // namespace lvm
