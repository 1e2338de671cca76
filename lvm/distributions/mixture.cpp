#include "lvm/distributions/mixture.h"

#include <stdexcept>

#include <torch/torch.h>

namespace lvm {

MixtureDistribution::MixtureDistribution(torch::Tensor logits, std::shared_ptr<Distribution> components)
    : mixing_(std::move(logits)), components_(std::move(components)) {
  if (components_ == nullptr)
    throw std::invalid_argument("MixtureDistribution: needs a component distribution");
}

torch::Tensor MixtureDistribution::sample(at::IntArrayRef shape) const {
  torch::NoGradGuard no_grad;
  const auto draws = components_->sample(shape);  // [shape..., batch..., K, D]
  TORCH_CHECK(draws.dim() >= 2 && draws.size(-2) == mixing_.num_classes(), "MixtureDistribution: expected ",
              mixing_.num_classes(), " components along dim -2, got draws ", draws.sizes());
  const auto lead = draws.sizes().slice(0, draws.dim() - 2);
  auto index = mixing_.sample(shape).expand(lead);  // [shape..., batch...]
  std::vector<int64_t> gather_shape(lead.begin(), lead.end());
  gather_shape.push_back(1);
  gather_shape.push_back(draws.size(-1));
  index = index.unsqueeze(-1).unsqueeze(-1).expand(gather_shape);
  return draws.gather(-2, index).squeeze(-2);
}

torch::Tensor MixtureDistribution::rsample(at::IntArrayRef /*shape*/) const {
  throw std::invalid_argument(
      "MixtureDistribution: no reparameterised draw (rsample) exists for a discrete mixture; use sample, or "
      "a bound that does not differentiate through draws of the mixture");
}

torch::Tensor MixtureDistribution::log_prob(const torch::Tensor& value) const {
  // value [S..., batch..., 1, D] broadcasts against the K components.
  const auto component_log_prob = components_->log_prob(value.unsqueeze(-2));  // [S..., batch..., K]
  return torch::logsumexp(mixing_.log_probs() + component_log_prob, -1);
}

std::shared_ptr<Distribution> MixtureDistribution::detached() const {
  return std::make_shared<MixtureDistribution>(mixing_.log_probs().detach(), components_->detached());
}

torch::Tensor MixtureDistribution::mean() const {
  return (mixing_.mean().unsqueeze(-1) * components_->mean()).sum(-2);
}

}  // namespace lvm
