#pragma once
// A finite mixture Σ_k w_k p_k(x) of K components with a shared event [D], e.g. a VampPrior
// p(z) = (1/K) Σ_k q(z|u_k).

#include "lvm/distributions/categorical.h"

namespace lvm {

class MixtureDistribution : public Distribution {
 public:
  /// logits: [batch..., K] mixing weights (normalised internally); components: batch shape
  /// [batch..., K], event [D] (e.g. a Normal with mean [batch..., K, D]).
  MixtureDistribution(torch::Tensor logits, std::shared_ptr<Distribution> components);

  /// Component indices, then the chosen components' draws (no gradient): [shape..., batch..., D]
  torch::Tensor sample(at::IntArrayRef shape = {}) const override;
  /// Throws std::invalid_argument: the discrete choice of component has no reparameterised draw.
  torch::Tensor rsample(at::IntArrayRef shape = {}) const override;
  /// value [S..., batch..., D] -> logsumexp_k(log w_k + log p_k(value)) [S..., batch...]
  torch::Tensor log_prob(const torch::Tensor& value) const override;
  std::shared_ptr<Distribution> detached() const override;
  /// Σ_k w_k mean_k: [batch..., D]
  torch::Tensor mean() const override;

  const Categorical& mixing() const { return mixing_; }
  const std::shared_ptr<Distribution>& components() const { return components_; }

 private:
  Categorical mixing_;
  std::shared_ptr<Distribution> components_;
};

}  // namespace lvm
