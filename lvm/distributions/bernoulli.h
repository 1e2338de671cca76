#pragma once
// Independent Bernoulli variables over the last dimension, parameterised by logits so that
// log-probabilities never go through log(sigmoid) (which underflows for large |logits|).

#include "lvm/distributions/distribution.h"

namespace lvm {

class Bernoulli : public Distribution {
 public:
  /// logits: [batch..., D]
  explicit Bernoulli(torch::Tensor logits);

  torch::Tensor sample(at::IntArrayRef shape = {}) const override;
  /// log p(x) = x * logits - softplus(logits), summed over D. For x in [0,1] that are not binary
  /// this is the negative cross-entropy, not a normalised log-density.
  torch::Tensor log_prob(const torch::Tensor& value) const override;
  std::shared_ptr<Distribution> detached() const override;
  torch::Tensor mean() const override { return torch::sigmoid(logits_); }

  const torch::Tensor& logits() const { return logits_; }

 private:
  torch::Tensor logits_;
};

}  // namespace lvm
