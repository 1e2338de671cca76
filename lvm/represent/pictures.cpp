#include "lvm/represent/pictures.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/represent/encoding.h"

namespace lvm::represent {

namespace {

// p(z) as a diagonal Gaussian, or a refusal naming the picture that needs one.
const Normal& gaussian_prior(const std::shared_ptr<Distribution>& prior, LatentVariableModel& model,
                             const char* mode) {
  const Normal* normal = prior == nullptr ? nullptr : prior->diagonal_gaussian();
  if (normal == nullptr) {
    throw std::invalid_argument(std::string(mode) + " needs a Gaussian prior p(z); the prior of this " +
                                model.kind() + " model is not a diagonal Gaussian");
  }
  return *normal;
}

}  // namespace

torch::Tensor linear_path(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& t) {
  const auto column = t.unsqueeze(1);  // [S, 1]
  return (1 - column) * a + column * b;
}

torch::Tensor spherical_path(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& t) {
  const double cosine = torch::cosine_similarity(a.unsqueeze(0), b.unsqueeze(0)).clamp(-1, 1).item<double>();
  const double omega = std::acos(cosine);
  if (!(std::sin(omega) > 1e-6)) return linear_path(a, b, t);
  const auto column = t.unsqueeze(1);  // [S, 1]
  return (torch::sin((1 - column) * omega) * a + torch::sin(column * omega) * b) / std::sin(omega);
}

torch::Tensor normal_quantile_grid(int64_t steps, const torch::TensorOptions& options) {
  if (steps < 1) throw std::invalid_argument("normal_quantile_grid: steps must be >= 1");
  // Φ⁻¹(p) = sqrt(2) erfinv(2p - 1) at the cell centres.
  const auto p = (torch::arange(steps, options) + 0.5) / static_cast<double>(steps);
  return std::sqrt(2.0) * torch::erfinv(2 * p - 1);
}

torch::Tensor manifold_codes(const Normal& prior, int64_t steps) {
  if (prior.mean().size(-1) != 2) {
    throw std::invalid_argument("manifold_codes: the prior must be 2-D, not " +
                                std::to_string(prior.mean().size(-1)) + "-D");
  }
  if (steps < 2) throw std::invalid_argument("manifold_codes: steps must be >= 2");
  const auto quantiles = normal_quantile_grid(steps, prior.mean().options());
  // z_0 grows left to right, z_1 bottom to top (as on a plot).
  const auto z0 = quantiles.repeat({steps});
  const auto z1 = quantiles.flip({0}).repeat_interleave(steps);
  const auto mean = prior.mean().expand({2}), std_dev = prior.stddev().expand({2});
  return torch::stack({z0 * std_dev[0] + mean[0], z1 * std_dev[1] + mean[1]}, 1);
}

torch::Tensor sweep_dimension(const torch::Tensor& code, int64_t dim, const torch::Tensor& offsets) {
  if (dim < 0 || dim >= code.size(0)) {
    throw std::invalid_argument("sweep_dimension: dimension " + std::to_string(dim) + " of a " +
                                std::to_string(code.size(0)) + "-D code");
  }
  auto z = code.unsqueeze(0).repeat({offsets.size(0), 1});
  z.select(1, dim).add_(offsets);
  return z;
}

torch::Tensor decode(LatentVariableModel& model, const torch::Tensor& z, bool binary) {
  torch::NoGradGuard no_grad;
  const auto p = model.likelihood(z);
  return binary ? p->sample() : p->mean();
}

torch::Tensor posterior_means(LatentVariableModel& model, const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  const auto q = model.proposal(images);
  if (q == nullptr)
    throw std::invalid_argument("this " + model.kind() + " model has no q(z|x) to encode images with");
  // A proposal that ignores x may have batch shape []: one row per image all the same.
  return q->mean().expand({images.size(0), model.latent_dim()});
}

torch::Tensor prior_samples(LatentVariableModel& model, int64_t n, bool binary) {
  torch::NoGradGuard no_grad;
  return decode(model, model.prior()->sample({n}), binary);
}

torch::Tensor reconstructions(LatentVariableModel& model, const torch::Tensor& images, bool binary) {
  return decode(model, posterior_means(model, images), binary);
}

torch::Tensor interpolation(LatentVariableModel& model, const torch::Tensor& a, const torch::Tensor& b,
                            const InterpolationOptions& options) {
  if (options.steps < 2) throw std::invalid_argument("interpolation: steps must be >= 2");
  torch::NoGradGuard no_grad;
  const auto ends = torch::stack({a, b});  // [2, D]
  const auto z = posterior_means(model, ends);
  const auto t = torch::linspace(0, 1, options.steps, z.options());
  const auto path = options.spherical ? spherical_path(z[0], z[1], t) : linear_path(z[0], z[1], t);
  return torch::cat({ends.narrow(0, 0, 1), decode(model, path, options.binary), ends.narrow(0, 1, 1)});
}

Traversal traversal(LatentVariableModel& model, const torch::Tensor& images, const torch::Tensor& code_image,
                    const TraversalOptions& options) {
  if (options.steps < 2) throw std::invalid_argument("traversal: steps must be >= 2");
  if (!(options.range > 0)) throw std::invalid_argument("traversal: range must be > 0");
  torch::NoGradGuard no_grad;
  const auto prior_distribution = model.prior();
  const Normal& prior = gaussian_prior(prior_distribution, model, "--traverse");
  const int64_t latent_dim = model.latent_dim();
  const int64_t rows = options.dims > 0 ? std::min(options.dims, latent_dim) : latent_dim;

  // Order dimensions by how much the encoder uses them: KL(q(z_d|x) || p(z_d)) over some images.
  Traversal result;
  result.kl_images = std::min(options.kl_images, images.size(0));
  result.kl = kl_per_dimension(model, encode(model, images.narrow(0, 0, result.kl_images), {}, 1000));
  const auto order = result.kl.argsort(0, /*descending=*/true).slice(0, 0, rows);

  const auto code = posterior_means(model, code_image.unsqueeze(0))[0];  // [Z]
  const auto std_dev = prior.stddev().expand({latent_dim});
  const auto offsets = torch::linspace(-options.range, options.range, options.steps, code.options());
  std::vector<torch::Tensor> decoded;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t d = order[r].item<int64_t>();
    result.dims.push_back(d);
    // One decode per row: with `binary`, the draws come in the order they always have.
    decoded.push_back(decode(model, sweep_dimension(code, d, offsets * std_dev[d]), options.binary));
  }
  result.images = torch::cat(decoded);
  return result;
}

torch::Tensor manifold(LatentVariableModel& model, int64_t steps, bool binary) {
  if (model.latent_dim() != 2) {
    throw std::invalid_argument("manifold needs a 2-D latent space; this " + model.kind() +
                                " model has latent_dim " + std::to_string(model.latent_dim()));
  }
  torch::NoGradGuard no_grad;
  const auto prior_distribution = model.prior();
  const Normal& prior = gaussian_prior(prior_distribution, model, "--manifold");
  return decode(model, manifold_codes(prior, steps), binary);
}

PointSamples prior_points(LatentVariableModel& model, int64_t n) {
  if (n < 1) throw std::invalid_argument("prior_points: n must be >= 1, got " + std::to_string(n));
  torch::NoGradGuard no_grad;
  PointSamples out;
  const auto z = model.prior()->sample({n});
  out.points = model.likelihood(z)->sample().to(torch::kCPU, torch::kDouble);
  out.latent = z.to(torch::kCPU);
  return out;
}

std::string points_csv(const PointSamples& samples) {
  const int64_t n = samples.points.size(0), d = samples.points.size(1);
  const bool discrete =
      samples.latent.defined() && samples.latent.dim() == 1 && samples.latent.scalar_type() == torch::kLong;
  std::string out = discrete ? "index,component" : "index";
  for (int64_t j = 0; j < d; ++j) out += fmt::format(",x_{}", j);
  out += '\n';
  const auto points = samples.points.contiguous();
  const double* x = points.data_ptr<double>();
  const auto latent = discrete ? samples.latent.contiguous() : torch::Tensor();
  const int64_t* component = discrete ? latent.data_ptr<int64_t>() : nullptr;
  auto buffer = fmt::memory_buffer();
  for (int64_t i = 0; i < n; ++i) {
    fmt::format_to(std::back_inserter(buffer), "{}", i);
    if (discrete) fmt::format_to(std::back_inserter(buffer), ",{}", component[i]);
    for (int64_t j = 0; j < d; ++j) fmt::format_to(std::back_inserter(buffer), ",{:.17g}", x[i * d + j]);
    buffer.push_back('\n');
  }
  out.append(buffer.data(), buffer.size());
  return out;
}

LatentPoints latent_points(LatentVariableModel& model, const torch::Tensor& images,
                           const torch::Tensor& labels) {
  const int64_t latent_dim = model.latent_dim();
  if (latent_dim < 2) {
    throw std::invalid_argument("a latent scatter plot needs 2 or more latent dimensions; this " +
                                model.kind() + " model has " + std::to_string(latent_dim));
  }
  const auto encoding = encode(model, images, labels);
  LatentPoints result;
  result.projected = latent_dim > 2;
  result.points = result.projected ? principal_components(encoding.mean, 2) : encoding.mean;
  result.labels = encoding.labels;
  return result;
}

}  // namespace lvm::represent
