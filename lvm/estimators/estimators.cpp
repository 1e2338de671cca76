#include "lvm/estimators/estimators.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <utility>

#include <torch/torch.h>

#include "lvm/distributions/joint.h"
#include "lvm/distributions/kl.h"
#include "lvm/estimators/streaming_log_sum_exp.h"
#include "lvm/runtime/runtime.h"

namespace lvm::estimators {
namespace {

void check_input(const LatentVariableModel& model, const torch::Tensor& x, const char* who) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == model.data_dim(), who, ": expected x of shape [B, ",
              model.data_dim(), "], got ", x.sizes());
}

void check_options(const SamplingOptions& options, const char* who) {
  TORCH_CHECK(options.k() >= 1, who, ": k must be >= 1, got ", options.k());
  TORCH_CHECK(options.chunk() >= 0, who, ": chunk must be >= 0 (0: all k at once), got ", options.chunk());
  TORCH_CHECK(options.workers() >= 0 && options.workers() <= 1024, who,
              ": workers must be in [0, 1024] (0: every core), got ", options.workers());
}

/// z for c samples: [c, B, ...], and log p(z) − log q(z) [c, B] (undefined when q is the prior:
/// the densities cancel exactly).
using Draw = std::function<std::pair<torch::Tensor, torch::Tensor>(int64_t c)>;

// Below this many rows (samples x examples) per worker a slice is too small for the matrix
// products to run at full rate.
constexpr int64_t kMinRowsPerWorker = 512;

// How many workers a chunk of c samples of a batch of b examples is split over, at most `wanted`:
// 1 (one call) on a GPU or when the slices would be too small.
int chunk_workers(int64_t wanted, int64_t c, int64_t b, const torch::Tensor& x) {
  if (!x.device().is_cpu() || wanted < 2) return 1;
  return static_cast<int>(std::max<int64_t>(1, std::min({wanted, c, c * b / kMinRowsPerWorker})));
}

// log p(x|z) of one chunk, z [c, B, ...] -> [c, B]. With several workers (CPU only) the c samples
// are split into that many consecutive slices evaluated at once, each on a thread of its own with
// single-threaded LibTorch and BLAS (runtime::SingleThreadedPools, for the split only: the draws
// and the sums around it keep the process's threads). The draws are the caller's, so the result
// is that of one call up to float rounding (a row's logits may round differently in the last
// bit at another place in BLAS's blocking).
torch::Tensor chunk_log_likelihood(LatentVariableModel& model, const torch::Tensor& x, const torch::Tensor& z,
                                   int64_t wanted) {
  const int64_t c = z.size(0);
  const int workers = chunk_workers(wanted, c, x.size(0), x);
  if (workers == 1) return model.log_likelihood(x, z);
  std::vector<torch::Tensor> pieces(static_cast<size_t>(workers));
  const runtime::SingleThreadedPools single_threaded;
  runtime::run_workers(workers, [&](int w) {
    torch::NoGradGuard no_grad;  // grad mode is per thread
    const int64_t from = c * w / workers, to = c * (w + 1) / workers;
    pieces[static_cast<size_t>(w)] = model.log_likelihood(x, z.slice(0, from, to));
  });
  return torch::cat(pieces);
}

// K samples in chunks: log w = log p(x|z) + log p(z) − log q(z) streamed into the log-sum-exp;
// running sums for the reconstruction term and the mean log-weight.
Estimate sample_pass(LatentVariableModel& model, const torch::Tensor& x, const SamplingOptions& options,
                     const Draw& draw, const char* who) {
  check_input(model, x, who);
  check_options(options, who);
  torch::NoGradGuard no_grad;
  const int64_t k = options.k();
  const int64_t chunk = options.chunk() == 0 ? k : std::min(options.chunk(), k);
  const auto double_options = x.options().dtype(torch::kDouble);
  StreamingLogSumExp log_sum_exp;
  auto rec_sum = torch::zeros({x.size(0)}, double_options);
  auto log_w_sum = torch::zeros({x.size(0)}, double_options);
  // Every core a worker of its own (CPU): as many as the larger of the split's two pools.
  const auto split = runtime::current_split();
  const int64_t workers =
      options.workers() > 0 ? options.workers() : std::max(split.torch_threads, split.blas_threads);
  for (int64_t done = 0; done < k; done += chunk) {
    const int64_t c = std::min(chunk, k - done);
    const auto [z, correction] = draw(c);
    const auto log_lik = chunk_log_likelihood(model, x, z, workers).to(torch::kDouble);  // [c, B]
    TORCH_CHECK(log_lik.dim() == 2 && log_lik.size(0) == c && log_lik.size(1) == x.size(0), who,
                ": expected log p(x|z) of shape [", c, ", ", x.size(0), "], got ", log_lik.sizes());
    const auto log_w = correction.defined() ? log_lik + correction.to(torch::kDouble) : log_lik;
    log_sum_exp.add(log_w);
    rec_sum += log_lik.sum(0);
    log_w_sum += log_w.sum(0);
  }
  Estimate estimate;
  estimate.log_px = log_sum_exp.log_mean_exp();
  estimate.ess = log_sum_exp.effective_sample_size();
  estimate.rec = rec_sum / static_cast<double>(k);
  estimate.mean_log_weight = log_w_sum / static_cast<double>(k);
  return estimate;
}

}  // namespace

Estimate exact(LatentVariableModel& model, const torch::Tensor& x) {
  check_input(model, x, "exact");
  torch::NoGradGuard no_grad;
  const auto log_px = model.exact_log_marginal(x);
  if (!log_px) {
    throw std::invalid_argument("estimator 'exact': model '" + model.kind() +
                                "' has no closed-form log p(x); use iwae, prior or elbo");
  }
  Estimate estimate;
  estimate.log_px = log_px->to(torch::kDouble);
  return estimate;
}

Estimate prior_sampling(LatentVariableModel& model, const torch::Tensor& x, const SamplingOptions& options) {
  const auto prior = model.prior();
  const int64_t batch = x.size(0);
  return sample_pass(
      model, x, options,
      [&](int64_t c) {
        return std::make_pair(prior->sample({c, batch}), torch::Tensor());
      },
      "prior_sampling");
}

Estimate importance_sampling(LatentVariableModel& model, const torch::Tensor& x,
                             const SamplingOptions& options) {
  check_input(model, x, "importance_sampling");
  std::shared_ptr<Distribution> q;
  {
    torch::NoGradGuard no_grad;
    q = model.proposal(x);
  }
  if (q == nullptr) {
    throw std::invalid_argument("importance sampling: model '" + model.kind() + "' has no proposal q(z|x)");
  }
  return importance_sampling(model, x, *q, options);
}

Estimate importance_sampling(LatentVariableModel& model, const torch::Tensor& x, const Distribution& proposal,
                             const SamplingOptions& options) {
  const auto prior = model.prior();
  return sample_pass(
      model, x, options,
      [&](int64_t c) {
        auto z = proposal.sample({c});  // [c, B, Z]
        auto correction = prior->log_prob(z) - proposal.log_prob(z);
        return std::make_pair(std::move(z), std::move(correction));
      },
      "importance_sampling");
}

Estimate elbo_from(const Estimate& importance, LatentVariableModel& model, const Distribution& proposal) {
  TORCH_CHECK(importance.rec.defined() && importance.mean_log_weight.defined(),
              "elbo_from: expected the result of an importance-sampling pass");
  torch::NoGradGuard no_grad;
  Estimate estimate;
  estimate.rec = importance.rec;
  if (auto kl = analytic_kl(proposal, *model.prior())) {
    estimate.kl = kl->to(torch::kDouble);
  } else {
    estimate.kl = importance.rec - importance.mean_log_weight;
  }
  estimate.log_px = estimate.rec - estimate.kl;
  return estimate;
}

Estimate elbo(LatentVariableModel& model, const torch::Tensor& x, const SamplingOptions& options) {
  check_input(model, x, "elbo");
  std::shared_ptr<Distribution> q;
  {
    torch::NoGradGuard no_grad;
    q = model.proposal(x);
  }
  if (q == nullptr) throw std::invalid_argument("elbo: model '" + model.kind() + "' has no proposal q(z|x)");
  return elbo(model, x, *q, options);
}

Estimate elbo(LatentVariableModel& model, const torch::Tensor& x, const Distribution& proposal,
              const SamplingOptions& options) {
  return elbo_from(importance_sampling(model, x, proposal, options), model, proposal);
}

Summary summarize(const torch::Tensor& values) {
  TORCH_CHECK(values.dim() == 1, "summarize: expected values of shape [N], got ", values.sizes());
  Summary summary;
  summary.n = values.size(0);
  if (summary.n == 0) return summary;
  const auto v = values.to(torch::kDouble);
  summary.mean = v.mean().item<double>();
  if (summary.n > 1) summary.std_error = v.std().item<double>() / std::sqrt(static_cast<double>(summary.n));
  return summary;
}

ActiveUnits active_units(LatentVariableModel& model, const torch::Tensor& images, int64_t batch_size,
                         double threshold) {
  check_input(model, images, "active_units");
  TORCH_CHECK(batch_size >= 1, "active_units: batch_size must be >= 1, got ", batch_size);
  TORCH_CHECK(images.size(0) >= 1, "active_units: no images");
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> means;
  ActiveUnits result;
  for (int64_t start = 0; start < images.size(0); start += batch_size) {
    const auto x = images.slice(0, start, std::min(start + batch_size, images.size(0)));
    const auto q = model.proposal(x);
    if (q == nullptr) {
      throw std::invalid_argument("active units: model '" + model.kind() + "' has no proposal q(z|x)");
    }
    means.push_back(q->mean().to(torch::kDouble));  // [b, Z]
    if (const auto* joint = dynamic_cast<const JointDistribution*>(q.get()); joint && start == 0) {
      result.group_sizes = joint->value_group_sizes();
    }
  }
  result.variance = torch::cat(means).var(0, /*unbiased=*/false);
  const auto active = result.variance > threshold;
  result.count = active.sum().item<int64_t>();
  int64_t offset = 0;
  for (const int64_t size : result.group_sizes) {
    result.group_counts.push_back(active.narrow(0, offset, size).sum().item<int64_t>());
    offset += size;
  }
  return result;
}

}  // namespace lvm::estimators
