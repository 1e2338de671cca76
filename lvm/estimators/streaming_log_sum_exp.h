#pragma once
// Exact log-sum-exp over a stream of chunks, so that estimators with any number of samples K hold
// only one chunk of log-weights at a time. State per example: the running maximum m, and the sums
// s1 = Σ exp(a − m) and s2 = Σ exp(2(a − m)), rescaled whenever m grows. Then
//   log Σ exp(a) = m + log s1,   ESS = (Σ w)² / Σ w² = s1² / s2   (w = exp(a)),
// the same numbers as on the full tensor up to rounding: nothing is truncated or approximated.

#include <cstdint>

#include <torch/types.h>

namespace lvm::estimators {

class StreamingLogSumExp {
 public:
  /// Adds a chunk of C values per example: a [C, B] (any floating dtype; the state is double).
  void add(const torch::Tensor& a);

  /// Values added so far per example (the K of a log-mean-exp).
  int64_t count() const { return count_; }
  /// log Σ_k exp(a_k): [B], double. -inf for an example whose values are all -inf.
  torch::Tensor log_sum_exp() const;
  /// log (1/K) Σ_k exp(a_k): [B], double.
  torch::Tensor log_mean_exp() const;
  /// (Σ w)² / Σ w² with w = exp(a): [B], double, in [1, K]; 0 where every weight is 0.
  torch::Tensor effective_sample_size() const;

 private:
  torch::Tensor max_;     // [B] running maximum
  torch::Tensor sum_;     // [B] Σ exp(a − max)
  torch::Tensor sum_sq_;  // [B] Σ exp(2(a − max))
  int64_t count_ = 0;
};

}  // namespace lvm::estimators
