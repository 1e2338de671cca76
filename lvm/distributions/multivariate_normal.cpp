#include "lvm/distributions/multivariate_normal.h"

#include <torch/torch.h>

namespace lvm {
namespace {
constexpr double kLog2Pi = 1.8378770664093454835606594728112;
}

MultivariateNormal::MultivariateNormal(torch::Tensor mean, torch::Tensor scale_tril)
    : mean_(std::move(mean)), scale_tril_(std::move(scale_tril)) {
  TORCH_CHECK(mean_.dim() >= 1, "MultivariateNormal: expected mean [..., D], got ", mean_.sizes());
  TORCH_CHECK(scale_tril_.dim() >= 2 && scale_tril_.size(-1) == mean_.size(-1) &&
                  scale_tril_.size(-2) == mean_.size(-1),
              "MultivariateNormal: expected scale_tril [..., D, D] with D = ", mean_.size(-1), ", got ",
              scale_tril_.sizes());
}

MultivariateNormal MultivariateNormal::from_covariance(torch::Tensor mean, const torch::Tensor& covariance) {
  return MultivariateNormal(std::move(mean), torch::linalg_cholesky(covariance));
}

torch::Tensor MultivariateNormal::sample(at::IntArrayRef shape) const {
  torch::NoGradGuard no_grad;
  return rsample(shape);
}

torch::Tensor MultivariateNormal::rsample(at::IntArrayRef shape) const {
  std::vector<int64_t> full(shape.begin(), shape.end());
  const auto batch = at::infer_size(mean_.sizes(), scale_tril_.sizes().slice(0, scale_tril_.dim() - 1));
  full.insert(full.end(), batch.begin(), batch.end());
  const auto eps = torch::randn(full, mean_.options());
  return mean_ + torch::matmul(scale_tril_, eps.unsqueeze(-1)).squeeze(-1);
}

torch::Tensor MultivariateNormal::log_prob(const torch::Tensor& value) const {
  // Solve L y = (x − μ): the Mahalanobis term is |y|², and log|Σ| = 2 Σ log diag(L).
  const auto diff = (value - mean_).unsqueeze(-1);
  std::vector<int64_t> shape(diff.sizes().begin(), diff.sizes().end());
  shape.back() = mean_.size(-1);
  const auto tril = scale_tril_.expand(shape);
  const auto y = torch::linalg_solve_triangular(tril, diff, /*upper=*/false).squeeze(-1);
  const auto half_log_det = torch::log(torch::diagonal(scale_tril_, 0, -2, -1)).sum(-1);
  const auto d = static_cast<double>(mean_.size(-1));
  return -0.5 * (y.pow(2).sum(-1) + d * kLog2Pi) - half_log_det;
}

std::shared_ptr<Distribution> MultivariateNormal::detached() const {
  return std::make_shared<MultivariateNormal>(mean_.detach(), scale_tril_.detach());
}

}  // namespace lvm
