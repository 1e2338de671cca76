#include "lvm/train/evaluate.h"

#include <cmath>

#include <torch/torch.h>

#include "lvm/objectives/objective.h"

namespace lvm::train {

ElboSummary evaluate_elbo(LatentVariableModel& model, const torch::Tensor& images, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<torch::Tensor> values, kls, recs;
  for (int64_t start = 0; start < images.size(0); start += batch_size) {
    const auto x = images.slice(0, start, std::min(start + batch_size, images.size(0)));
    const auto result = elbo(model, x, 1, KlMode::kAnalytic);
    values.push_back(result.value.to(torch::kDouble));
    kls.push_back(result.kl.to(torch::kDouble));
    recs.push_back(result.rec.to(torch::kDouble));
  }
  model.train(was_training);
  ElboSummary summary;
  summary.n = images.size(0);
  if (summary.n == 0) return summary;
  const auto value = torch::cat(values);
  summary.elbo = value.mean().item<double>();
  summary.kl = torch::cat(kls).mean().item<double>();
  summary.rec = torch::cat(recs).mean().item<double>();
  summary.elbo_std_error =
      summary.n > 1 ? value.std().item<double>() / std::sqrt(static_cast<double>(summary.n)) : 0.0;
  return summary;
}

}  // namespace lvm::train
