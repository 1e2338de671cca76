#include "lvm/distributions/multivariate_normal.h"

#include <torch/torch.h>

#include "lvm/runtime/batch_shard.h"

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
  const auto eps = runtime::per_example_randn(full, mean_.options());  // lvm/runtime/batch_shard.h
  return mean_ + torch::matmul(scale_tril_, eps.unsqueeze(-1)).squeeze(-1);
}

torch::Tensor MultivariateNormal::log_prob(const torch::Tensor& value) const {
  const int64_t d = mean_.size(-1);
  TORCH_CHECK(value.dim() >= 1 && value.size(-1) == d, "MultivariateNormal::log_prob: expected values [..., ",
              d, "], got ", value.sizes());
  // The Mahalanobis term is |y|² with L y = x − μ, and log|Σ| = 2 Σ log diag(L).
  const auto tril_batch = scale_tril_.sizes().slice(0, scale_tril_.dim() - 2);
  const auto nb = static_cast<int64_t>(tril_batch.size());
  const auto full = at::infer_size(value.sizes(), mean_.sizes());  // [S..., batch..., D]
  const int64_t lead = static_cast<int64_t>(full.size()) - 1 - nb;
  torch::Tensor mahalanobis;
  if (lead > 0) {
    // Leading dimensions beyond scale_tril's batch (samples, or data points scored against every
    // component) share its factors: lay them out as rows [batch..., S, D] and multiply by L⁻ᵀ, one
    // matrix product per factor, rather than one small triangular solve per value.
    const std::vector<int64_t> lead_shape(full.begin(), full.begin() + lead);
    const int64_t columns = c10::multiply_integers(lead_shape);
    const auto to_rows = [&](const torch::Tensor& t) {  // [S..., b..., D] -> [b..., S, D]
      std::vector<int64_t> padded(full.size() - static_cast<size_t>(t.dim()), 1);
      padded.insert(padded.end(), t.sizes().begin(), t.sizes().end());
      std::vector<int64_t> expanded(lead_shape);
      expanded.insert(expanded.end(), padded.begin() + lead, padded.end());
      std::vector<int64_t> flat = {columns};
      flat.insert(flat.end(), padded.begin() + lead, padded.end());
      return t.view(padded).expand(expanded).reshape(flat).movedim(0, -2);
    };
    const auto diff = (to_rows(value) - to_rows(mean_)).contiguous();  // [batch..., S, D]
    const auto eye = torch::eye(d, scale_tril_.options()).expand(scale_tril_.sizes());
    const auto inverse = torch::linalg_solve_triangular(scale_tril_, eye, /*upper=*/false);  // L⁻¹
    const auto y = torch::matmul(diff, inverse.transpose(-1, -2));  // rows (L⁻¹ (x − μ))ᵀ
    std::vector<int64_t> out(lead_shape);
    const auto batch = y.sizes().slice(0, y.dim() - 2);
    out.insert(out.end(), batch.begin(), batch.end());
    mahalanobis = y.pow(2).sum(-1).movedim(-1, 0).reshape(out);  // [S..., batch...]
  } else {
    const auto diff = value - mean_;
    auto batch = at::infer_size(diff.sizes().slice(0, diff.dim() - 1), tril_batch);
    std::vector<int64_t> shape(batch.begin(), batch.end());
    shape.push_back(d);
    const auto rhs = diff.expand(shape).unsqueeze(-1);  // [batch..., D, 1]
    shape.push_back(d);
    const auto y = torch::linalg_solve_triangular(scale_tril_.expand(shape), rhs, /*upper=*/false);
    mahalanobis = y.squeeze(-1).pow(2).sum(-1);
  }
  const auto half_log_det = torch::log(torch::diagonal(scale_tril_, 0, -2, -1)).sum(-1);
  return -0.5 * (mahalanobis + static_cast<double>(d) * kLog2Pi) - half_log_det;
}

std::shared_ptr<Distribution> MultivariateNormal::detached() const {
  return std::make_shared<MultivariateNormal>(mean_.detach(), scale_tril_.detach());
}

}  // namespace lvm
