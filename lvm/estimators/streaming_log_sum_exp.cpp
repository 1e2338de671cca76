#include "lvm/estimators/streaming_log_sum_exp.h"

#include <cmath>

#include <torch/torch.h>

namespace lvm::estimators {

void StreamingLogSumExp::add(const torch::Tensor& a) {
  TORCH_CHECK(a.dim() == 2, "StreamingLogSumExp: expected a chunk of shape [C, B], got ", a.sizes());
  TORCH_CHECK(!max_.defined() || a.size(1) == max_.size(0), "StreamingLogSumExp: expected chunks of ",
              max_.size(0), " examples, got ", a.sizes());
  if (a.size(0) == 0) return;
  const auto values = a.detach().to(torch::kDouble);
  auto chunk_max = std::get<0>(values.max(0));
  if (!max_.defined()) {
    max_ = torch::full_like(chunk_max, -INFINITY);
    sum_ = torch::zeros_like(chunk_max);
    sum_sq_ = torch::zeros_like(chunk_max);
  }
  const auto new_max = torch::maximum(max_, chunk_max);
  // Sums are kept relative to the maximum; while it is -inf (every weight 0 so far) shift by 0
  // instead, as exp(-inf - (-inf)) would be NaN. The old sums are then 0, so any rescale works.
  const auto shift = torch::where(torch::isneginf(new_max), torch::zeros_like(new_max), new_max);
  const auto rescale = torch::exp(max_ - shift);  // <= 1: earlier sums shrink, never overflow
  const auto scaled = torch::exp(values - shift);
  sum_ = sum_ * rescale + scaled.sum(0);
  sum_sq_ = sum_sq_ * rescale.square() + scaled.square().sum(0);
  max_ = new_max;
  count_ += a.size(0);
}

torch::Tensor StreamingLogSumExp::log_sum_exp() const {
  TORCH_CHECK(max_.defined(), "StreamingLogSumExp: no values added");
  // max + log s1, with s1 in [1, C]; an all -inf example gives -inf + log 0 = -inf.
  return max_ + torch::log(sum_);
}

torch::Tensor StreamingLogSumExp::log_mean_exp() const {
  return log_sum_exp() - std::log(static_cast<double>(count_));
}

torch::Tensor StreamingLogSumExp::effective_sample_size() const {
  TORCH_CHECK(max_.defined(), "StreamingLogSumExp: no values added");
  const auto ess = sum_.square() / sum_sq_;
  return torch::where(sum_ > 0, ess, torch::zeros_like(ess));
}

}  // namespace lvm::estimators
