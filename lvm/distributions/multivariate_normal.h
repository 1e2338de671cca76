#pragma once
// Full-covariance Gaussian N(mean, L L^T) over the last dimension, given the lower-triangular
// Cholesky factor L with a positive diagonal.

#include "lvm/distributions/distribution.h"

namespace lvm {

class MultivariateNormal : public Distribution {
 public:
  /// mean: [batch..., D]; scale_tril: [batch..., D, D] lower triangular, positive diagonal.
  MultivariateNormal(torch::Tensor mean, torch::Tensor scale_tril);
  /// From a covariance [batch..., D, D] (symmetric positive definite).
  static MultivariateNormal from_covariance(torch::Tensor mean, const torch::Tensor& covariance);

  torch::Tensor sample(at::IntArrayRef shape = {}) const override;
  torch::Tensor rsample(at::IntArrayRef shape = {}) const override;
  torch::Tensor log_prob(const torch::Tensor& value) const override;
  std::shared_ptr<Distribution> detached() const override;
  torch::Tensor mean() const override { return mean_; }

  const torch::Tensor& scale_tril() const { return scale_tril_; }
  torch::Tensor covariance() const { return torch::matmul(scale_tril_, scale_tril_.transpose(-1, -2)); }

 private:
  torch::Tensor mean_;
  torch::Tensor scale_tril_;
};

}  // namespace lvm
