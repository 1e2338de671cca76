#include "lvm/distributions/normal.h"

#include <cmath>

#include <torch/torch.h>

#include "lvm/runtime/batch_shard.h"

namespace lvm {
namespace {

constexpr double kLog2Pi = 1.8378770664093454835606594728112;

std::vector<int64_t> sample_shape_of(at::IntArrayRef shape, const torch::Tensor& mean,
                                     const torch::Tensor& log_var) {
  std::vector<int64_t> out(shape.begin(), shape.end());
  const auto batch = at::infer_size(mean.sizes(), log_var.sizes());
  out.insert(out.end(), batch.begin(), batch.end());
  return out;
}

}  // namespace

Normal::Normal(torch::Tensor mean, torch::Tensor log_var)
    : mean_(std::move(mean)), log_var_(std::move(log_var)) {
  TORCH_CHECK(mean_.dim() >= 1, "Normal: expected mean of shape [..., D], got ", mean_.sizes());
}

Normal Normal::standard(int64_t dim, const torch::TensorOptions& options) {
  return Normal(torch::zeros({dim}, options), torch::zeros({dim}, options));
}

torch::Tensor Normal::sample(at::IntArrayRef shape) const {
  torch::NoGradGuard no_grad;
  return rsample(shape);
}

torch::Tensor Normal::rsample(at::IntArrayRef shape) const {
  // Per-example noise: the same ε for a row whether or not its batch is split over processes.
  const auto eps = runtime::per_example_randn(sample_shape_of(shape, mean_, log_var_), mean_.options());
  return mean_ + eps * torch::exp(0.5 * log_var_);
}

torch::Tensor Normal::log_prob(const torch::Tensor& value) const {
  // -0.5 * [log 2π + log σ² + (x-μ)²/σ²], summed over the event.
  const auto squared = (value - mean_).pow(2) * torch::exp(-log_var_);
  return -0.5 * (squared + log_var_ + kLog2Pi).sum(-1);
}

std::shared_ptr<Distribution> Normal::detached() const {
  return std::make_shared<Normal>(mean_.detach(), log_var_.detach());
}

torch::Tensor Normal::entropy() const {
  const auto log_var = log_var_.expand(at::infer_size(mean_.sizes(), log_var_.sizes()));
  return 0.5 * (log_var + 1.0 + kLog2Pi).sum(-1);
}

}  // namespace lvm
