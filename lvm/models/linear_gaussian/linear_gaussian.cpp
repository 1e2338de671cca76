#include "lvm/models/linear_gaussian/linear_gaussian.h"

#include <cmath>

#include <torch/torch.h>

namespace lvm {

LinearGaussian::LinearGaussian(torch::Tensor weight, torch::Tensor bias, double noise_std) {
  TORCH_CHECK(weight.dim() == 2, "LinearGaussian: expected weight [D, Z], got ", weight.sizes());
  TORCH_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "LinearGaussian: expected bias [",
              weight.size(0), "], got ", bias.sizes());
  TORCH_CHECK(noise_std > 0, "LinearGaussian: noise_std must be positive, got ", noise_std);
  weight_ = register_parameter("weight", weight.clone());
  bias_ = register_parameter("bias", bias.clone().to(weight.dtype()));
  log_noise_var_ =
      register_parameter("log_noise_var", torch::full({}, 2.0 * std::log(noise_std), weight.options()));
}

std::shared_ptr<Distribution> LinearGaussian::prior() {
  return std::make_shared<Normal>(Normal::standard(latent_dim(), weight_.options()));
}

std::shared_ptr<Distribution> LinearGaussian::likelihood(const torch::Tensor& z) {
  const auto mean = torch::matmul(z, weight_.t()) + bias_;
  return std::make_shared<Normal>(mean, log_noise_var_.expand({data_dim()}));
}

std::shared_ptr<Distribution> LinearGaussian::proposal(const torch::Tensor& x) {
  return std::make_shared<MultivariateNormal>(posterior(x));
}

std::optional<torch::Tensor> LinearGaussian::exact_log_marginal(const torch::Tensor& x) {
  const auto eye = torch::eye(data_dim(), weight_.options());
  const auto covariance = torch::matmul(weight_, weight_.t()) + noise_variance() * eye;
  return MultivariateNormal::from_covariance(bias_, covariance).log_prob(x);
}

MultivariateNormal LinearGaussian::posterior(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == data_dim(), "LinearGaussian: expected x [B, ", data_dim(),
              "], got ", x.sizes());
  const auto var = noise_variance();
  const auto precision =
      torch::eye(latent_dim(), weight_.options()) + torch::matmul(weight_.t(), weight_) / var;
  const auto covariance = torch::cholesky_inverse(torch::linalg_cholesky(precision));
  // mean_b = Σ Wᵀ (x_b − b) / σ²  ->  [B, Z]
  const auto mean = torch::matmul((x - bias_) / var, torch::matmul(weight_, covariance));
  return MultivariateNormal(mean, torch::linalg_cholesky(covariance));
}

}  // namespace lvm
