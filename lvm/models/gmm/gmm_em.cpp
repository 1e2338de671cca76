#include "lvm/models/gmm/gmm_em.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>
#include <torch/torch.h>

namespace lvm {
namespace {

// Components whose total responsibility is below this many points are empty: they keep their mean
// (a weighted mean of nothing is undefined) and get covariance reg_covar·I.
constexpr double kEmptyComponent = 1e-12;

// Checks what every fitting entry point needs; returns x in the model's dtype.
torch::Tensor checked_data(GaussianMixture& model, const torch::Tensor& x, const char* where) {
  if (x.dim() != 2 || x.size(1) != model.data_dim()) {
    throw std::invalid_argument(fmt::format("{}: expected data of shape [N, {}], got {}", where,
                                            model.data_dim(), c10::str(x.sizes())));
  }
  if (x.size(0) < model.latent_dim()) {
    throw std::invalid_argument(fmt::format(
        "{}: {} data points for {} components: a mixture needs at least as many points as components", where,
        x.size(0), model.latent_dim()));
  }
  const auto finite = torch::isfinite(x).all(1);
  if (!finite.all().item<bool>()) {
    const int64_t row = (~finite).nonzero()[0][0].item<int64_t>();
    throw std::invalid_argument(
        fmt::format("{}: data row {} holds a non-finite value (NaN or infinity)", where, row));
  }
  return x.to(model.means().dtype());
}

// Values per temporary in the chunked loops below (32 MB in double).
constexpr int64_t kChunkValues = int64_t{1} << 22;

// Squared Euclidean distances of x [N, D] to c [M, D] -> [N, M], exact (differences, not the
// expansion |x|² − 2x·c + |c|²), so duplicates of a centre are at distance 0; in row chunks.
torch::Tensor squared_distances(const torch::Tensor& x, const torch::Tensor& c) {
  const int64_t n = x.size(0);
  const int64_t rows = std::max<int64_t>(1, kChunkValues / (c.size(0) * x.size(1)));
  if (n <= rows) return (x.unsqueeze(1) - c.unsqueeze(0)).pow(2).sum(-1);
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < n; start += rows)
    parts.push_back(
        (x.slice(0, start, std::min(start + rows, n)).unsqueeze(1) - c.unsqueeze(0)).pow(2).sum(-1));
  return torch::cat(parts);
}

// Nearest centre for each row of x (expanded form: one matrix product for all pairs).
torch::Tensor nearest(const torch::Tensor& x, const torch::Tensor& centres) {
  const auto d2 =
      (x * x).sum(1, true) - 2 * torch::matmul(x, centres.t()) + (centres * centres).sum(1).unsqueeze(0);
  return d2.argmin(1);
}

// The covariance array a type stores, every component at reg_covar·I: [K, D, D], [K, D] or [K].
torch::Tensor floor_covariances(GaussianMixture& model, const torch::TensorOptions& options) {
  const int64_t k = model.latent_dim();
  const int64_t d = model.data_dim();
  const double reg = model.options().reg_covar();
  switch (model.options().covariance()) {
    case CovarianceType::kFull:
      return (reg * torch::eye(d, options)).expand({k, d, d}).clone();
    case CovarianceType::kDiag:
      return torch::full({k, d}, reg, options);
    case CovarianceType::kSpherical:
      break;
  }
  return torch::full({k}, reg, options);
}

// E-step: mean log-likelihood and responsibilities [N, K].
std::pair<double, torch::Tensor> e_step(GaussianMixture& model, const torch::Tensor& x, int64_t chunk_size) {
  const int64_t n = x.size(0);
  auto resp = torch::empty({n, model.latent_dim()}, x.options());
  auto total = torch::zeros({}, x.options().dtype(torch::kDouble));
  for (int64_t start = 0; start < n; start += chunk_size) {
    const int64_t end = std::min(start + chunk_size, n);
    const auto joint = model.joint_log_prob(x.slice(0, start, end));  // [n, K]
    const auto log_px = torch::logsumexp(joint, 1, true);
    resp.slice(0, start, end).copy_(torch::exp(joint - log_px));
    total += log_px.sum().to(torch::kDouble);
  }
  return {total.item<double>() / static_cast<double>(n), resp};
}

}  // namespace

GmmInit parse_gmm_init(const std::string& name) {
  if (name == "kmeans++") return GmmInit::kKmeansPlusPlus;
  if (name == "random") return GmmInit::kRandom;
  throw std::invalid_argument("model.init: unknown initialisation '" + name +
                              "' (expected kmeans++ or random)");
}

torch::Tensor kmeans_plus_plus(const torch::Tensor& x, int64_t k, at::Generator generator, int64_t trials) {
  const int64_t n = x.size(0);
  if (k < 1 || n < k) {
    throw std::invalid_argument(
        fmt::format("kmeans_plus_plus: cannot choose {} centres from {} points", k, n));
  }
  if (trials < 0) {
    throw std::invalid_argument(
        fmt::format("kmeans_plus_plus: trials must be >= 0 (0: 2 + ln K), got {}", trials));
  }
  torch::NoGradGuard no_grad;
  const auto cpu_long = torch::TensorOptions().dtype(torch::kLong);
  if (trials == 0) trials = 2 + static_cast<int64_t>(std::log(static_cast<double>(k)));
  std::vector<int64_t> chosen = {torch::randint(n, {1}, generator, cpu_long).item<int64_t>()};
  auto closest = squared_distances(x, x.slice(0, chosen[0], chosen[0] + 1)).squeeze(1);  // [N]
  for (int64_t c = 1; c < k; ++c) {
    // Candidates drawn with probability ∝ squared distance to the nearest centre so far; when
    // every point sits on a centre already (duplicates), uniformly.
    const auto weights = closest.to(torch::kCPU, torch::kDouble);
    const bool all_covered = !(weights.sum().item<double>() > 0);
    const auto candidates = all_covered
                                ? torch::randint(n, {trials}, generator, cpu_long)
                                : torch::multinomial(weights, trials, /*replacement=*/true, generator);
    const auto d2 = squared_distances(x, x.index_select(0, candidates.to(x.device())));  // [N, trials]
    const auto after = torch::minimum(closest.unsqueeze(1), d2);
    const int64_t best = after.sum(0).argmin().item<int64_t>();
    closest = after.select(1, best).contiguous();
    chosen.push_back(candidates[best].item<int64_t>());
  }
  return x.index_select(0, torch::tensor(chosen, cpu_long).to(x.device()));
}

KmeansResult kmeans(const torch::Tensor& x, torch::Tensor centres, int64_t max_iterations, double tol) {
  torch::NoGradGuard no_grad;
  const int64_t k = centres.size(0);
  const double shift_tol = x.size(0) > 1 ? tol * x.var(0).mean().item<double>() : 0.0;
  KmeansResult result;
  auto labels = nearest(x, centres);
  for (int64_t it = 0; it < max_iterations; ++it) {
    const auto counts = torch::bincount(labels, {}, k).to(x.dtype()).unsqueeze(1);  // [K, 1]
    const auto sums = torch::zeros_like(centres).index_add_(0, labels, x);
    const auto moved = torch::where(counts > 0, sums / counts.clamp_min(1), centres);
    const double shift = (moved - centres).pow(2).sum().item<double>();
    centres = moved;
    const auto updated = nearest(x, centres);
    ++result.iterations;
    const bool stable = torch::equal(updated, labels);
    labels = updated;
    if (stable || shift <= shift_tol) break;
  }
  result.centres = centres;
  result.labels = labels;
  return result;
}

void m_step(GaussianMixture& model, const torch::Tensor& x, const torch::Tensor& resp) {
  torch::NoGradGuard no_grad;
  const int64_t n = x.size(0);
  const int64_t k = model.latent_dim();
  const int64_t d = model.data_dim();
  const double reg = model.options().reg_covar();
  const auto responsibility = resp.sum(0);  // [K]
  // As scikit-learn: 10 machine epsilons keep an empty component's weight (and logit) finite.
  const auto nk = responsibility + 10 * std::numeric_limits<double>::epsilon();
  const auto empty = responsibility < kEmptyComponent;  // [K]
  const auto weighted_means = torch::matmul(resp.t(), x) / nk.unsqueeze(1);
  const auto means = torch::where(empty.unsqueeze(1), model.means().detach().to(x.dtype()), weighted_means);

  const CovarianceType type = model.options().covariance();
  auto covariances = floor_covariances(model, x.options());
  const auto eye = torch::eye(d, x.options());
  const auto resp_t = resp.t().contiguous();  // [K, N]: one contiguous row per component
  const auto is_empty = empty.cpu();
  const bool full = type == CovarianceType::kFull;
  // Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ around the new mean (not E[xxᵀ] − μμᵀ, which cancels badly far
  // from the origin), or its diagonal; accumulated over row chunks of [rows, D] temporaries.
  auto scatter = full ? torch::zeros({k, d, d}, x.options()) : torch::zeros({k, d}, x.options());
  const int64_t rows = std::max<int64_t>(1, kChunkValues / d);
  for (int64_t start = 0; start < n; start += rows) {
    const int64_t end = std::min(start + rows, n);
    const auto xc = x.slice(0, start, end);
    for (int64_t j = 0; j < k; ++j) {
      if (is_empty[j].item<bool>()) continue;
      // √r_nk (x_n − μ_k): the scatter is then a plain Gram matrix.
      const auto scaled = (xc - means[j]) * torch::sqrt(resp_t[j].slice(0, start, end)).unsqueeze(1);
      if (full) {
        scatter[j] += torch::matmul(scaled.t(), scaled);
      } else {
        scatter[j] += scaled.pow(2).sum(0);
      }
    }
  }
  const auto per_point = scatter / (full ? nk.view({k, 1, 1}) : nk.view({k, 1}));
  for (int64_t j = 0; j < k; ++j) {
    if (is_empty[j].item<bool>()) continue;  // keeps the floor, reg_covar·I
    if (full) {
      covariances[j] = per_point[j] + reg * eye;
    } else if (type == CovarianceType::kDiag) {
      covariances[j] = per_point[j] + reg;
    } else {
      covariances[j] = per_point[j].mean() + reg;
    }
  }
  model.set_parameters(nk / static_cast<double>(n), means, covariances);
}

void initialize_gmm(GaussianMixture& model, const torch::Tensor& x_in, GmmInit init, uint64_t seed) {
  const auto x = checked_data(model, x_in, "initialize_gmm");
  torch::NoGradGuard no_grad;
  const int64_t n = x.size(0);
  const int64_t k = model.latent_dim();
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto uniform = torch::full({k}, 1.0 / static_cast<double>(k), x.options());
  if (init == GmmInit::kKmeansPlusPlus) {
    const auto result = kmeans(x, kmeans_plus_plus(x, k, generator));
    // The centres first, so that a cluster k-means left empty keeps its centre in the M-step.
    model.set_parameters(uniform, result.centres, floor_covariances(model, x.options()));
    m_step(model, x, torch::one_hot(result.labels, k).to(x.dtype()));
    return;
  }
  const auto rows = torch::randperm(n, generator, torch::TensorOptions().dtype(torch::kLong)).slice(0, 0, k);
  const auto means = x.index_select(0, rows.to(x.device()));
  const auto resp = torch::full({n, 1}, 1.0, x.options());
  // The data's own covariance for every component: the M-step of a single component.
  GaussianMixture one(GaussianMixtureOptions(model.data_dim(), 1)
                          .covariance(model.options().covariance())
                          .reg_covar(model.options().reg_covar())
                          .dtype(model.options().dtype()));
  one.to(x.device());
  m_step(one, x, resp);
  torch::Tensor covariances;
  switch (model.options().covariance()) {
    case CovarianceType::kFull:
      covariances = one.covariances().expand({k, model.data_dim(), model.data_dim()});
      break;
    case CovarianceType::kDiag:
      covariances = one.variances().expand({k, model.data_dim()});
      break;
    case CovarianceType::kSpherical:
      covariances = one.variances().select(1, 0).expand({k});
      break;
  }
  model.set_parameters(uniform, means, covariances);
}

EmResult fit_em(GaussianMixture& model, const torch::Tensor& x_in, const EmOptions& options,
                const std::function<void(const EmStep&)>& on_step) {
  if (options.max_steps < 0) throw std::invalid_argument("fit_em: max_steps must be >= 0");
  if (options.chunk_size < 0) throw std::invalid_argument("fit_em: chunk_size must be >= 0 (0: automatic)");
  const auto x = checked_data(model, x_in, "fit_em");
  torch::NoGradGuard no_grad;
  EmResult result;
  const int64_t chunk = options.chunk_size > 0 ? options.chunk_size : model.rows_per_chunk();
  auto [log_likelihood, resp] = e_step(model, x, chunk);
  result.initial_mean_log_likelihood = log_likelihood;
  for (int64_t step = 1; step <= options.max_steps; ++step) {
    m_step(model, x, resp);
    auto [updated, new_resp] = e_step(model, x, chunk);
    if (!std::isfinite(updated)) {
      throw std::runtime_error(fmt::format("fit_em: the log-likelihood became {} at step {}", updated, step));
    }
    const double improvement = updated - log_likelihood;
    log_likelihood = updated;
    resp = new_resp;
    result.steps = step;
    if (on_step) on_step(EmStep{step, updated, improvement});
    if (std::abs(improvement) < options.tol) {
      result.converged = true;
      break;
    }
  }
  result.mean_log_likelihood = log_likelihood;
  return result;
}

double mean_log_likelihood(GaussianMixture& model, const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.size(0) >= 1, "mean_log_likelihood: expected x [N, D] with N >= 1, got ",
              x.sizes());
  torch::NoGradGuard no_grad;
  const auto data = x.to(model.means().dtype());
  auto total = torch::zeros({}, data.options().dtype(torch::kDouble));
  const int64_t rows = model.rows_per_chunk();
  for (int64_t start = 0; start < data.size(0); start += rows) {
    const auto chunk = data.slice(0, start, std::min(start + rows, data.size(0)));
    total += model.exact_log_marginal(chunk)->sum().to(torch::kDouble);
  }
  return total.item<double>() / static_cast<double>(data.size(0));
}

}  // namespace lvm
