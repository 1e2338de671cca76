#pragma once
// Gaussian mixture: z ~ Categorical(π) over K components, x|z=k ~ N(μ_k, Σ_k). The latent takes
// few values, so log p(x) = log Σ_k π_k N(x; μ_k, Σ_k) is exact (a log-sum-exp over components),
// the posterior p(z|x) (the responsibilities) is exact too, and it is the model's proposal: an
// importance-sampling estimate with it has zero variance.
//
// Parameterisation (unconstrained, so gradient ascent needs no projection):
//   weights      π = softmax(logits)
//   full         Σ_k = L_k L_kᵀ + reg_covar·I, L_k lower triangular with softplus(diagonal) > 0
//   diag         Σ_k = diag(softplus(s_k)² + reg_covar)
//   spherical    Σ_k = (softplus(s_k)² + reg_covar)·I
// reg_covar > 0 floors every covariance eigenvalue, so no component can collapse onto a point and
// the likelihood stays bounded. Components are MultivariateNormal (full) or Normal (diag,
// spherical) distributions: likelihood(z) returns whichever matches the covariance type.

#include <string>

#include "lvm/distributions/categorical.h"
#include "lvm/models/latent_variable_model.h"

namespace lvm {

enum class CovarianceType { kFull, kDiag, kSpherical };

/// "full" | "diag" | "spherical"; throws std::invalid_argument naming the choices otherwise.
CovarianceType parse_covariance_type(const std::string& name);
std::string to_string(CovarianceType type);

struct GaussianMixtureOptions {
  GaussianMixtureOptions(int64_t data_dim, int64_t components)
      : data_dim_(data_dim), components_(components) {}
  TORCH_ARG(int64_t, data_dim);
  TORCH_ARG(int64_t, components);
  TORCH_ARG(CovarianceType, covariance) = CovarianceType::kFull;
  /// Added to every covariance's diagonal: the floor on its eigenvalues. Must be > 0.
  TORCH_ARG(double, reg_covar) = 1e-6;
  /// Parameter dtype. Double by default: EM sums statistics over many points, and its
  /// never-decreasing likelihood is only visible above the rounding of the sums.
  TORCH_ARG(torch::Dtype, dtype) = torch::kFloat64;
};

class GaussianMixture : public LatentVariableModel {
 public:
  /// Starts with equal weights, μ_k = 0 and Σ_k = (1 + reg_covar)·I; fit it with
  /// lvm/models/gmm_em.h (initialise, then EM) or by gradient ascent on exact_log_marginal.
  explicit GaussianMixture(const GaussianMixtureOptions& options);

  std::string kind() const override { return "gmm"; }
  int64_t data_dim() const override { return options_.data_dim(); }
  /// K, the number of components (values of the discrete latent).
  int64_t latent_dim() const override { return options_.components(); }
  const GaussianMixtureOptions& options() const { return options_; }

  /// Categorical(π) over component indices (int64 values, no event dimension).
  std::shared_ptr<Distribution> prior() override;
  /// z [S...] int64 -> the components N(μ_z, Σ_z) with batch shape [S...] over x [S..., D].
  std::shared_ptr<Distribution> likelihood(const torch::Tensor& z) override;
  /// The exact posterior p(z|x): x [B, D] -> Categorical with batch [B].
  std::shared_ptr<Distribution> proposal(const torch::Tensor& x) override;
  /// log Σ_k π_k N(x; μ_k, Σ_k): x [B, D] -> [B].
  std::optional<torch::Tensor> exact_log_marginal(const torch::Tensor& x) override;
  /// log N(x_b; μ_{z_sb}, Σ_{z_sb}): x [B, D], z [S, B] int64 -> [S, B]; every component is scored
  /// once per point and the result gathered (same values as likelihood(z)->log_prob(x)).
  torch::Tensor log_likelihood(const torch::Tensor& x, const torch::Tensor& z) override;
  /// The exported mixture (gmm_script.cpp): log_prob(x) -> [B], component_log_prob(x) -> [B, K],
  /// responsibilities(x) -> [B, K], predict(x) -> [B] int64, sample(n) -> [n, D],
  /// sample_latent(n) -> [n] int64 component indices, forward = log_prob.
  std::unique_ptr<torchscript::ModelScript> script() override;

  /// log N(x_b; μ_k, Σ_k) for every point and component: x [B, D] -> [B, K].
  torch::Tensor component_log_prob(const torch::Tensor& x);
  /// log π_k + log N(x_b; μ_k, Σ_k): x [B, D] -> [B, K] (log p(x_b, z=k)).
  torch::Tensor joint_log_prob(const torch::Tensor& x);
  /// log p(z=k | x_b): x [B, D] -> [B, K].
  torch::Tensor log_responsibilities(const torch::Tensor& x);
  /// p(z=k | x_b), the representation of x: x [B, D] -> [B, K], rows sum to 1.
  torch::Tensor responsibilities(const torch::Tensor& x);
  /// Hard assignment argmax_k p(z=k | x_b): x [B, D] -> [B] int64.
  torch::Tensor predict(const torch::Tensor& x);

  /// π: [K]
  torch::Tensor weights();
  /// log π: [K]
  torch::Tensor log_weights();
  /// μ: [K, D]
  const torch::Tensor& means() const { return means_; }
  /// Σ as full matrices whatever the covariance type: [K, D, D]
  torch::Tensor covariances();
  /// Cholesky factors of Σ: [K, D, D]
  torch::Tensor scale_tril();
  /// Diagonals of Σ (diag and spherical types only): [K, D]
  torch::Tensor variances();

  /// Sets the parameters so that weights(), means() and covariances() return the given values
  /// (up to rounding). weights [K] > 0 (normalised here); means [K, D]; covariances as the type
  /// stores them: [K, D, D] (full), [K, D] (diag) or [K] (spherical), each with eigenvalues
  /// >= reg_covar (what an M-step gives: a scatter matrix + reg_covar·I); a smaller eigenvalue is
  /// raised to the floor. Throws std::invalid_argument on wrong shapes or non-finite values,
  /// leaving the model unchanged.
  void set_parameters(const torch::Tensor& weights, const torch::Tensor& means,
                      const torch::Tensor& covariances);

  /// Rows of x to score at once so that the [rows, K, D] intermediates of component_log_prob stay
  /// near 4M values (32 MB in double): what chunked evaluation and EM use.
  int64_t rows_per_chunk() const;

  /// Free parameters: (K − 1) weights + K·D means + the covariances' (K·D(D+1)/2 full, K·D diag,
  /// K spherical). The count BIC uses.
  int64_t num_free_parameters() const;

 private:
  void check_x(const torch::Tensor& x, const char* where) const;

  GaussianMixtureOptions options_;
  torch::Tensor logits_;  // [K]
  torch::Tensor means_;   // [K, D]
  // full: [K, D, D], strictly lower part = L's, diagonal = softplus⁻¹(diag L) (upper part unused);
  // diag: [K, D]; spherical: [K]; softplus⁻¹ of the standard deviation above the floor.
  torch::Tensor scale_raw_;
};

/// Bayesian information criterion of a fitted mixture on x [N, D] (lower is better):
/// −2 Σ_n log p(x_n) + num_free_parameters · log N.
double bic(GaussianMixture& model, const torch::Tensor& x);

}  // namespace lvm
