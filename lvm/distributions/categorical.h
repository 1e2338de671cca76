#pragma once
// Categorical over K classes; values are int64 class indices (no event dimension).

#include "lvm/distributions/distribution.h"

namespace lvm {

class Categorical : public Distribution {
 public:
  /// logits: [batch..., K], normalised internally (log-softmax).
  explicit Categorical(torch::Tensor logits);

  /// -> [shape..., batch...] int64
  torch::Tensor sample(at::IntArrayRef shape = {}) const override;
  /// value [S..., batch...] int64 -> [S..., batch...]
  torch::Tensor log_prob(const torch::Tensor& value) const override;
  std::shared_ptr<Distribution> detached() const override;
  /// Class probabilities [batch..., K] (the mean of the one-hot encoding).
  torch::Tensor mean() const override { return torch::exp(log_probs_); }
  const Categorical* categorical() const override { return this; }

  const torch::Tensor& log_probs() const { return log_probs_; }
  int64_t num_classes() const { return log_probs_.size(-1); }

 private:
  torch::Tensor log_probs_;
};

}  // namespace lvm
