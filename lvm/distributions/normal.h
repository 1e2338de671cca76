#pragma once
// Diagonal Gaussian N(mean, diag(exp(log_var))) over the last dimension.

#include "lvm/distributions/distribution.h"

namespace lvm {

class Normal : public Distribution {
 public:
  /// mean, log_var: [batch..., D] (broadcastable to each other)
  Normal(torch::Tensor mean, torch::Tensor log_var);
  /// N(0, I) over D dimensions, batch shape [].
  static Normal standard(int64_t dim, const torch::TensorOptions& options = {});

  torch::Tensor sample(at::IntArrayRef shape = {}) const override;
  torch::Tensor rsample(at::IntArrayRef shape = {}) const override;
  torch::Tensor log_prob(const torch::Tensor& value) const override;
  std::shared_ptr<Distribution> detached() const override;
  torch::Tensor mean() const override { return mean_; }
  const Normal* diagonal_gaussian() const override { return this; }

  const torch::Tensor& log_var() const { return log_var_; }
  torch::Tensor stddev() const { return torch::exp(0.5 * log_var_); }
  /// Entropy summed over the event: [batch...]
  torch::Tensor entropy() const;

 private:
  torch::Tensor mean_;
  torch::Tensor log_var_;
};

}  // namespace lvm
