#include "lvm/distributions/joint.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

namespace lvm {
namespace {

// Groups may differ in leading (sample/batch) shape by broadcasting: expand them to a common one.
torch::Tensor concatenate(const std::vector<torch::Tensor>& groups) {
  std::vector<int64_t> lead;
  for (const auto& g : groups) {
    const auto sizes = g.sizes();
    lead = at::infer_size(lead, sizes.slice(0, sizes.size() - 1));
  }
  std::vector<torch::Tensor> expanded;
  for (const auto& g : groups) {
    auto shape = lead;
    shape.push_back(g.size(-1));
    expanded.push_back(g.expand(shape));
  }
  return torch::cat(expanded, -1);
}

}  // namespace

JointDistribution::Factor JointDistribution::Factor::of(std::shared_ptr<Distribution> distribution,
                                                        int64_t size) {
  Factor f;
  f.size = size;
  f.fixed = std::move(distribution);
  return f;
}

JointDistribution::Factor JointDistribution::Factor::given(Conditional conditional, int64_t size,
                                                           Conditional detached_factor) {
  Factor f;
  f.size = size;
  f.conditional = std::move(conditional);
  f.detached_factor = std::move(detached_factor);
  return f;
}

JointDistribution::JointDistribution(std::vector<Factor> factors, GroupOrder order)
    : factors_(std::move(factors)), order_(order) {
  if (factors_.empty()) throw std::invalid_argument("JointDistribution: needs at least one factor");
  for (size_t i = 0; i < factors_.size(); ++i) {
    const auto& f = factors_[i];
    if (f.size < 1 || ((f.fixed != nullptr) == static_cast<bool>(f.conditional))) {
      throw std::invalid_argument("JointDistribution: factor " + std::to_string(i) +
                                  " needs a size >= 1 and exactly one of a distribution or a conditional");
    }
  }
}

std::vector<int64_t> JointDistribution::group_sizes() const {
  std::vector<int64_t> sizes;
  for (const auto& f : factors_) sizes.push_back(f.size);
  return sizes;
}

std::vector<int64_t> JointDistribution::value_group_sizes() const {
  auto sizes = group_sizes();
  if (order_ == GroupOrder::kReversed) std::reverse(sizes.begin(), sizes.end());
  return sizes;
}

std::vector<torch::Tensor> JointDistribution::split(const torch::Tensor& value) const {
  int64_t total = 0;
  for (const auto& f : factors_) total += f.size;
  TORCH_CHECK(value.dim() >= 1 && value.size(-1) == total, "JointDistribution: expected a value [..., ",
              total, "], got ", value.sizes());
  auto groups = value.split_with_sizes(value_group_sizes(), -1);
  if (order_ == GroupOrder::kReversed) std::reverse(groups.begin(), groups.end());
  return groups;
}

torch::Tensor JointDistribution::join(std::vector<torch::Tensor> groups) const {
  if (order_ == GroupOrder::kReversed) std::reverse(groups.begin(), groups.end());
  return concatenate(groups);
}

std::shared_ptr<Distribution> JointDistribution::factor(size_t i,
                                                        const std::vector<torch::Tensor>& earlier) const {
  const auto& f = factors_[i];
  return f.fixed != nullptr ? f.fixed : f.conditional(earlier);
}

std::pair<torch::Tensor, torch::Tensor> JointDistribution::draw(at::IntArrayRef shape,
                                                                bool with_log_prob) const {
  std::vector<torch::Tensor> groups;
  torch::Tensor log_q;
  for (size_t i = 0; i < factors_.size(); ++i) {
    const auto d = factor(i, groups);
    // A conditional given earlier draws already carries the sample shape in its batch shape.
    const bool prepend = factors_[i].fixed != nullptr || groups.empty();
    const at::IntArrayRef draw_shape = prepend ? shape : at::IntArrayRef{};
    if (with_log_prob) {
      auto [z, lp] = d->rsample_with_log_prob(draw_shape);
      log_q = log_q.defined() ? log_q + lp : lp;
      groups.push_back(std::move(z));
    } else {
      groups.push_back(d->rsample(draw_shape));
    }
  }
  return {join(std::move(groups)), log_q};
}

torch::Tensor JointDistribution::sample(at::IntArrayRef shape) const {
  torch::NoGradGuard no_grad;
  return draw(shape, false).first;
}

torch::Tensor JointDistribution::rsample(at::IntArrayRef shape) const { return draw(shape, false).first; }

std::pair<torch::Tensor, torch::Tensor> JointDistribution::rsample_with_log_prob(
    at::IntArrayRef shape) const {
  return draw(shape, true);
}

torch::Tensor JointDistribution::log_prob(const torch::Tensor& value) const {
  const auto groups = split(value);
  std::vector<torch::Tensor> earlier;
  torch::Tensor total;
  for (size_t i = 0; i < factors_.size(); ++i) {
    const auto lp = factor(i, earlier)->log_prob(groups[i]);
    total = total.defined() ? total + lp : lp;
    earlier.push_back(groups[i]);
  }
  return total;
}

torch::Tensor JointDistribution::mean() const {
  std::vector<torch::Tensor> means;
  for (size_t i = 0; i < factors_.size(); ++i) means.push_back(factor(i, means)->mean());
  return join(std::move(means));
}

std::optional<Normal> JointDistribution::normal_at_means() const {
  std::vector<torch::Tensor> means, log_vars;
  for (size_t i = 0; i < factors_.size(); ++i) {
    const auto d = factor(i, means);
    const Normal* normal = d->diagonal_gaussian();
    if (normal == nullptr) return std::nullopt;
    means.push_back(normal->mean());
    log_vars.push_back(normal->log_var().expand_as(normal->mean()));
  }
  return Normal(join(std::move(means)), join(std::move(log_vars)));
}

std::shared_ptr<Distribution> JointDistribution::detached() const {
  std::vector<Factor> factors;
  for (size_t i = 0; i < factors_.size(); ++i) {
    const auto& f = factors_[i];
    if (f.fixed != nullptr) {
      factors.push_back(Factor::of(f.fixed->detached(), f.size));
    } else if (f.detached_factor) {
      factors.push_back(Factor::given(f.detached_factor, f.size, f.detached_factor));
    } else {
      throw std::invalid_argument(
          "JointDistribution::detached: DReG needs the detached distribution, but conditional factor " +
          std::to_string(i) +
          " has no detached_factor (its network must be re-run with stopped parameter gradients, which "
          "only the model can do)");
    }
  }
  return std::make_shared<JointDistribution>(std::move(factors), order_);
}

}  // namespace lvm
