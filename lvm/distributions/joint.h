#pragma once
// A joint distribution over several latent groups, q(z1) q(z2|z1) ..., whose value is the
// concatenation of the groups along the last dimension: [..., Z1 + Z2 + ...].

#include <functional>
#include <vector>

#include "lvm/distributions/distribution.h"

namespace lvm {

class JointDistribution : public Distribution {
 public:
  /// earlier groups, each [S..., batch..., Zj] -> the factor's distribution given them.
  using Conditional =
      std::function<std::shared_ptr<Distribution>(const std::vector<torch::Tensor>& earlier_groups)>;

  /// One factor: either `fixed` or `conditional` is set. `size` is the group's event size Zi.
  struct Factor {
    int64_t size = 0;
    std::shared_ptr<Distribution> fixed;
    Conditional conditional;
    /// The conditional re-run with stopped parameter gradients (for detached(), i.e. DReG).
    Conditional detached_factor;

    static Factor of(std::shared_ptr<Distribution> distribution, int64_t size);
    static Factor given(Conditional conditional, int64_t size, Conditional detached_factor = {});
  };

  explicit JointDistribution(std::vector<Factor> factors);

  std::vector<int64_t> group_sizes() const;
  /// value [..., ΣZi] -> one tensor [..., Zi] per group.
  std::vector<torch::Tensor> split(const torch::Tensor& value) const;

  /// Sequential: each conditional factor is drawn given the groups drawn before it.
  torch::Tensor sample(at::IntArrayRef shape = {}) const override;
  torch::Tensor rsample(at::IntArrayRef shape = {}) const override;
  /// Sums each factor's own rsample_with_log_prob (so flow factors keep their cheap log q).
  std::pair<torch::Tensor, torch::Tensor> rsample_with_log_prob(at::IntArrayRef shape = {}) const override;
  /// value [S..., batch..., ΣZi] -> Σ_i log q_i(z_i | z_<i) [S..., batch...]
  torch::Tensor log_prob(const torch::Tensor& value) const override;
  /// Throws std::invalid_argument when a conditional factor has no detached_factor.
  std::shared_ptr<Distribution> detached() const override;
  /// A chain of means: each factor's mean given the earlier groups' means (the true mean only
  /// when the conditional means are linear in the earlier groups): [batch..., ΣZi]
  torch::Tensor mean() const override;

 private:
  // Factor i's distribution given the earlier groups.
  std::shared_ptr<Distribution> factor(size_t i, const std::vector<torch::Tensor>& earlier) const;
  // Draws group by group; with_log_prob also sums the factors' log q.
  std::pair<torch::Tensor, torch::Tensor> draw(at::IntArrayRef shape, bool with_log_prob) const;

  std::vector<Factor> factors_;
};

}  // namespace lvm
