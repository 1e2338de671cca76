#pragma once
// Linear-Gaussian latent variable model (probabilistic PCA): z ~ N(0, I_Z), x|z ~ N(W z + b, σ² I_D).
// Everything is closed-form: log p(x) = log N(x; b, W Wᵀ + σ² I) and the posterior
// p(z|x) = N(Σ Wᵀ(x − b)/σ², Σ) with Σ = (I + WᵀW/σ²)⁻¹. It is the test oracle for estimators
// and objectives, and its proposal is the exact posterior.

#include "lvm/distributions/multivariate_normal.h"
#include "lvm/distributions/normal.h"
#include "lvm/models/latent_variable_model.h"

namespace lvm {

class LinearGaussian : public LatentVariableModel {
 public:
  /// weight: [D, Z], bias: [D], noise_std σ > 0. Parameters keep the dtype of `weight`.
  LinearGaussian(torch::Tensor weight, torch::Tensor bias, double noise_std);

  std::string kind() const override { return "linear_gaussian"; }
  int64_t data_dim() const override { return weight_.size(0); }
  int64_t latent_dim() const override { return weight_.size(1); }

  std::shared_ptr<Distribution> prior() override;
  std::shared_ptr<Distribution> likelihood(const torch::Tensor& z) override;
  /// The exact posterior p(z|x).
  std::shared_ptr<Distribution> proposal(const torch::Tensor& x) override;
  std::optional<torch::Tensor> exact_log_marginal(const torch::Tensor& x) override;
  /// The exported model: log_prob(x) -> [B] (exact), encode(x) -> (mean [B, Z], scale_tril [Z, Z])
  /// of p(z|x), sample(n) -> [n, D], sample_latent(n) -> [n, Z], forward = log_prob.
  std::unique_ptr<torchscript::ModelScript> script() override;

  /// p(z|x) for x [B, D]: mean [B, Z], shared scale_tril [Z, Z].
  MultivariateNormal posterior(const torch::Tensor& x);
  const torch::Tensor& weight() const { return weight_; }
  const torch::Tensor& bias() const { return bias_; }
  torch::Tensor noise_variance() const { return torch::exp(log_noise_var_); }

 private:
  torch::Tensor weight_, bias_, log_noise_var_;
};

}  // namespace lvm
