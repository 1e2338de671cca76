#include "lvm/distributions/categorical.h"

#include <torch/torch.h>

namespace lvm {

Categorical::Categorical(torch::Tensor logits) {
  TORCH_CHECK(logits.dim() >= 1, "Categorical: expected logits of shape [..., K], got ", logits.sizes());
  log_probs_ = torch::log_softmax(logits, -1);
}

torch::Tensor Categorical::sample(at::IntArrayRef shape) const {
  torch::NoGradGuard no_grad;
  const int64_t k = num_classes();
  const auto probs = torch::exp(log_probs_).reshape({-1, k});  // [prod(batch), K]
  int64_t draws = 1;
  for (auto s : shape) draws *= s;
  // multinomial draws per row: [prod(batch), draws] -> [draws, batch...]
  auto flat = torch::multinomial(probs, draws, /*replacement=*/true).transpose(0, 1);
  std::vector<int64_t> out(shape.begin(), shape.end());
  const auto batch = log_probs_.sizes().slice(0, log_probs_.dim() - 1);
  out.insert(out.end(), batch.begin(), batch.end());
  return flat.reshape(out);
}

torch::Tensor Categorical::log_prob(const torch::Tensor& value) const {
  TORCH_CHECK(value.scalar_type() == torch::kLong,
              "Categorical::log_prob: expected int64 class indices, got ", value.scalar_type());
  // Broadcast the table [batch..., K] against value [S..., batch...].
  std::vector<int64_t> shape(value.sizes().begin(), value.sizes().end());
  shape.push_back(num_classes());
  const auto table = log_probs_.expand(shape);
  return table.gather(-1, value.unsqueeze(-1)).squeeze(-1);
}

std::shared_ptr<Distribution> Categorical::detached() const {
  return std::make_shared<Categorical>(log_probs_.detach());
}

}  // namespace lvm
