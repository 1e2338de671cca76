#include "lvm/models/gmm/gaussian_mixture.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/distributions/multivariate_normal.h"
#include "lvm/distributions/normal.h"

namespace lvm {
namespace {

// softplus⁻¹(y) = log(exp(y) − 1) = y + log(1 − exp(−y)), stable for small and large y > 0.
torch::Tensor softplus_inverse(const torch::Tensor& y) { return y + torch::log(-torch::expm1(-y)); }

std::string shape_of(const torch::Tensor& t) {
  std::string out = "[";
  for (int64_t i = 0; i < t.dim(); ++i) out += (i ? ", " : "") + std::to_string(t.size(i));
  return out + "]";
}

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("GaussianMixture::set_parameters: " + message);
}

// Below this (relative to the largest eigenvalue or reg_covar), a scatter matrix's eigenvalue is
// taken as zero: its factor stays positive definite by a margin far under reg_covar.
constexpr double kRelativeFloor = 1e-12;

}  // namespace

CovarianceType parse_covariance_type(const std::string& name) {
  if (name == "full") return CovarianceType::kFull;
  if (name == "diag") return CovarianceType::kDiag;
  if (name == "spherical") return CovarianceType::kSpherical;
  throw std::invalid_argument("model.covariance: unknown covariance type '" + name +
                              "' (expected full, diag or spherical)");
}

std::string to_string(CovarianceType type) {
  switch (type) {
    case CovarianceType::kFull:
      return "full";
    case CovarianceType::kDiag:
      return "diag";
    case CovarianceType::kSpherical:
      return "spherical";
  }
  return "?";
}

GaussianMixture::GaussianMixture(const GaussianMixtureOptions& options) : options_(options) {
  const int64_t k = options.components();
  const int64_t d = options.data_dim();
  TORCH_CHECK(k >= 1, "GaussianMixture: components must be >= 1, got ", k);
  TORCH_CHECK(d >= 1, "GaussianMixture: data_dim must be >= 1, got ", d);
  TORCH_CHECK(options.reg_covar() > 0 && std::isfinite(options.reg_covar()),
              "GaussianMixture: reg_covar must be a positive number, got ", options.reg_covar());
  const auto opts = torch::TensorOptions().dtype(options.dtype());
  logits_ = register_parameter("logits", torch::zeros({k}, opts));
  means_ = register_parameter("means", torch::zeros({k, d}, opts));
  // softplus⁻¹(1): unit standard deviations (plus the floor).
  const double unit = std::log(std::expm1(1.0));
  switch (options.covariance()) {
    case CovarianceType::kFull:
      scale_raw_ = register_parameter("scale_raw", torch::diag_embed(torch::full({k, d}, unit, opts)));
      break;
    case CovarianceType::kDiag:
      scale_raw_ = register_parameter("scale_raw", torch::full({k, d}, unit, opts));
      break;
    case CovarianceType::kSpherical:
      scale_raw_ = register_parameter("scale_raw", torch::full({k}, unit, opts));
      break;
  }
}

void GaussianMixture::check_x(const torch::Tensor& x, const char* where) const {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == data_dim(), "GaussianMixture::", where,
              ": expected x of shape [B, ", data_dim(), "], got ", x.sizes());
}

torch::Tensor GaussianMixture::weights() { return torch::softmax(logits_, 0); }
torch::Tensor GaussianMixture::log_weights() { return torch::log_softmax(logits_, 0); }

torch::Tensor GaussianMixture::covariances() {
  const double reg = options_.reg_covar();
  if (options_.covariance() == CovarianceType::kFull) {
    const auto factor = torch::tril(scale_raw_, -1) +
                        torch::diag_embed(torch::softplus(torch::diagonal(scale_raw_, 0, -2, -1)));
    const auto eye = torch::eye(data_dim(), scale_raw_.options());
    return torch::matmul(factor, factor.transpose(-1, -2)) + reg * eye;
  }
  return torch::diag_embed(variances());
}

torch::Tensor GaussianMixture::variances() {
  const double reg = options_.reg_covar();
  TORCH_CHECK(options_.covariance() != CovarianceType::kFull,
              "GaussianMixture::variances: defined for diag and spherical covariances; use covariances()");
  const auto var = torch::softplus(scale_raw_).pow(2) + reg;
  if (options_.covariance() == CovarianceType::kDiag) return var;
  return var.unsqueeze(-1).expand({latent_dim(), data_dim()});
}

torch::Tensor GaussianMixture::scale_tril() {
  if (options_.covariance() == CovarianceType::kFull) return torch::linalg_cholesky(covariances());
  return torch::diag_embed(torch::sqrt(variances()));
}

std::shared_ptr<Distribution> GaussianMixture::prior() { return std::make_shared<Categorical>(logits_); }

std::shared_ptr<Distribution> GaussianMixture::likelihood(const torch::Tensor& z) {
  TORCH_CHECK(z.scalar_type() == torch::kLong,
              "GaussianMixture::likelihood: expected int64 component indices, got ", z.scalar_type());
  std::vector<int64_t> shape(z.sizes().begin(), z.sizes().end());
  shape.push_back(data_dim());
  const auto flat = z.reshape({-1});
  const auto mean = means_.index_select(0, flat).reshape(shape);  // [S..., D]
  if (options_.covariance() == CovarianceType::kFull) {
    shape.push_back(data_dim());
    return std::make_shared<MultivariateNormal>(mean, scale_tril().index_select(0, flat).reshape(shape));
  }
  return std::make_shared<Normal>(mean, torch::log(variances()).index_select(0, flat).reshape(mean.sizes()));
}

torch::Tensor GaussianMixture::component_log_prob(const torch::Tensor& x) {
  check_x(x, "component_log_prob");
  // x [B, 1, D] against the K components: [B, K].
  const auto points = x.unsqueeze(-2);
  if (options_.covariance() == CovarianceType::kFull)
    return MultivariateNormal(means_, scale_tril()).log_prob(points);
  return Normal(means_, torch::log(variances())).log_prob(points);
}

torch::Tensor GaussianMixture::joint_log_prob(const torch::Tensor& x) {
  return component_log_prob(x) + log_weights();
}

torch::Tensor GaussianMixture::log_responsibilities(const torch::Tensor& x) {
  return torch::log_softmax(joint_log_prob(x), -1);
}

torch::Tensor GaussianMixture::responsibilities(const torch::Tensor& x) {
  return torch::softmax(joint_log_prob(x), -1);
}

torch::Tensor GaussianMixture::predict(const torch::Tensor& x) { return joint_log_prob(x).argmax(-1); }

std::shared_ptr<Distribution> GaussianMixture::proposal(const torch::Tensor& x) {
  check_x(x, "proposal");
  return std::make_shared<Categorical>(joint_log_prob(x));
}

std::optional<torch::Tensor> GaussianMixture::exact_log_marginal(const torch::Tensor& x) {
  check_x(x, "exact_log_marginal");
  return torch::logsumexp(joint_log_prob(x), -1);
}

torch::Tensor GaussianMixture::log_likelihood(const torch::Tensor& x, const torch::Tensor& z) {
  check_x(x, "log_likelihood");
  TORCH_CHECK(z.scalar_type() == torch::kLong && z.dim() >= 1 && z.size(-1) == x.size(0),
              "GaussianMixture::log_likelihood: expected int64 z of shape [S..., ", x.size(0), "], got ",
              z.scalar_type(), " ", z.sizes());
  const auto per_component = component_log_prob(x);  // [B, K]
  std::vector<int64_t> shape(z.sizes().begin(), z.sizes().end());
  shape.push_back(latent_dim());
  return per_component.expand(shape).gather(-1, z.unsqueeze(-1)).squeeze(-1);
}

void GaussianMixture::set_parameters(const torch::Tensor& weights, const torch::Tensor& means,
                                     const torch::Tensor& covariances) {
  const int64_t k = latent_dim();
  const int64_t d = data_dim();
  const double reg = options_.reg_covar();
  require(weights.dim() == 1 && weights.size(0) == k,
          fmt::format("expected weights [{}], got {}", k, shape_of(weights)));
  require(means.dim() == 2 && means.size(0) == k && means.size(1) == d,
          fmt::format("expected means [{}, {}], got {}", k, d, shape_of(means)));
  const auto w = weights.detach().to(torch::kDouble);
  const auto mu = means.detach().to(torch::kDouble);
  const auto cov = covariances.detach().to(torch::kDouble);
  require(torch::isfinite(w).all().item<bool>() && (w > 0).all().item<bool>(),
          "weights must be finite and positive");
  require(torch::isfinite(mu).all().item<bool>(), "means must be finite");

  torch::Tensor raw;
  if (options_.covariance() == CovarianceType::kFull) {
    require(cov.dim() == 3 && cov.size(0) == k && cov.size(1) == d && cov.size(2) == d,
            fmt::format("expected full covariances [{}, {}, {}], got {}", k, d, d, shape_of(cov)));
    require(torch::isfinite(cov).all().item<bool>(), "covariances must be finite");
    // L Lᵀ = Σ − reg·I, a scatter matrix: positive semi-definite, possibly singular (points on a
    // line, a single point). Where Cholesky fails, clip its eigenvalues at a relative floor.
    const auto eye = torch::eye(d, cov.options());
    auto scatter = 0.5 * (cov + cov.transpose(-1, -2)) - reg * eye;
    auto [factor, info] = torch::linalg_cholesky_ex(scatter);
    const auto failed = (info != 0).nonzero().flatten();
    if (failed.numel() > 0) {
      const auto bad = scatter.index_select(0, failed);
      auto [eigenvalues, eigenvectors] = torch::linalg_eigh(bad);
      const auto top = std::get<0>(eigenvalues.max(-1, true)).clamp_min(reg);
      const auto clipped = torch::maximum(eigenvalues, kRelativeFloor * top);
      const auto repaired =
          torch::matmul(eigenvectors * clipped.unsqueeze(-2), eigenvectors.transpose(-1, -2));
      factor.index_copy_(0, failed, torch::linalg_cholesky(repaired));
    }
    const auto diagonal = torch::diagonal(factor, 0, -2, -1).clamp_min(1e-150);
    raw = torch::tril(factor, -1) + torch::diag_embed(softplus_inverse(diagonal));
  } else {
    const bool diag = options_.covariance() == CovarianceType::kDiag;
    require(diag ? (cov.dim() == 2 && cov.size(0) == k && cov.size(1) == d)
                 : (cov.dim() == 1 && cov.size(0) == k),
            diag ? fmt::format("expected diagonal covariances [{}, {}], got {}", k, d, shape_of(cov))
                 : fmt::format("expected spherical variances [{}], got {}", k, shape_of(cov)));
    require(torch::isfinite(cov).all().item<bool>(), "covariances must be finite");
    const auto excess = (cov - reg).clamp_min(kRelativeFloor * reg);
    raw = softplus_inverse(torch::sqrt(excess));
  }
  require(torch::isfinite(raw).all().item<bool>(), "covariances could not be factorised");

  torch::NoGradGuard no_grad;
  logits_.copy_(torch::log(w / w.sum()));
  means_.copy_(mu);
  scale_raw_.copy_(raw);
}

int64_t GaussianMixture::rows_per_chunk() const {
  constexpr int64_t kValues = int64_t{1} << 22;
  return std::max<int64_t>(1, kValues / (latent_dim() * data_dim()));
}

int64_t GaussianMixture::num_free_parameters() const {
  const int64_t k = latent_dim();
  const int64_t d = data_dim();
  int64_t covariance = 0;
  switch (options_.covariance()) {
    case CovarianceType::kFull:
      covariance = k * d * (d + 1) / 2;
      break;
    case CovarianceType::kDiag:
      covariance = k * d;
      break;
    case CovarianceType::kSpherical:
      covariance = k;
      break;
  }
  return (k - 1) + k * d + covariance;
}

double bic(GaussianMixture& model, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  const int64_t n = x.size(0);
  TORCH_CHECK(n >= 1, "bic: needs at least one point");
  double total = 0;
  const int64_t rows = model.rows_per_chunk();
  for (int64_t start = 0; start < n; start += rows) {
    const auto chunk = x.slice(0, start, std::min(start + rows, n));
    total += model.exact_log_marginal(chunk)->to(torch::kDouble).sum().item<double>();
  }
  return -2.0 * total + static_cast<double>(model.num_free_parameters()) * std::log(static_cast<double>(n));
}

}  // namespace lvm
