#pragma once
// A joint distribution over several latent groups, q(z1) q(z2|z1) ..., whose value is the
// concatenation of the groups along the last dimension: [..., Z1 + Z2 + ...]. A top-down prior
// p(z2) p(z1|z2) draws its groups in the opposite order of the bottom-up proposal q(z1|x) q(z2|z1)
// it is paired with; GroupOrder::kReversed lays its value out as the proposal's, [z1, z2].

#include <functional>
#include <optional>
#include <vector>

#include "lvm/distributions/normal.h"

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

  /// Where each factor's group sits in the value: in factor order, or last factor first.
  enum class GroupOrder { kFactorOrder, kReversed };

  explicit JointDistribution(std::vector<Factor> factors, GroupOrder order = GroupOrder::kFactorOrder);

  /// The groups' sizes in factor order.
  std::vector<int64_t> group_sizes() const;
  /// The groups' sizes in the order the value holds them.
  std::vector<int64_t> value_group_sizes() const;
  /// value [..., ΣZi] -> one tensor [..., Zi] per group, in factor order.
  std::vector<torch::Tensor> split(const torch::Tensor& value) const;
  /// groups [..., Zi] in factor order (broadcast against each other) -> the value [..., ΣZi].
  torch::Tensor join(std::vector<torch::Tensor> groups) const;

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
  /// Each factor's diagonal Gaussian given the earlier groups' means, concatenated like the value:
  /// how a hierarchy's q(z|x) is summarised for encoding (z1's q, then q(z2|z1) at z1's mean).
  /// nullopt when some factor is not a diagonal Gaussian.
  std::optional<Normal> normal_at_means() const;

 private:
  // Factor i's distribution given the earlier groups.
  std::shared_ptr<Distribution> factor(size_t i, const std::vector<torch::Tensor>& earlier) const;
  // Draws group by group; with_log_prob also sums the factors' log q.
  std::pair<torch::Tensor, torch::Tensor> draw(at::IntArrayRef shape, bool with_log_prob) const;

  std::vector<Factor> factors_;
  GroupOrder order_;
};

}  // namespace lvm
