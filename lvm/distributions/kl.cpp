#include "lvm/distributions/kl.h"

#include <torch/torch.h>

namespace lvm {

torch::Tensor kl_divergence_per_dim(const Normal& q, const Normal& p) {
  // ½ [ log σp² − log σq² + (σq² + (μq − μp)²) / σp² − 1 ]
  const auto var_ratio = torch::exp(q.log_var() - p.log_var());
  const auto mean_term = (q.mean() - p.mean()).pow(2) * torch::exp(-p.log_var());
  return 0.5 * (var_ratio + mean_term - 1.0 - (q.log_var() - p.log_var()));
}

torch::Tensor kl_divergence(const Normal& q, const Normal& p) { return kl_divergence_per_dim(q, p).sum(-1); }

std::optional<torch::Tensor> analytic_kl(const Distribution& q, const Distribution& p) {
  const Normal* qn = q.diagonal_gaussian();
  const Normal* pn = p.diagonal_gaussian();
  if (qn != nullptr && pn != nullptr) return kl_divergence(*qn, *pn);
  return std::nullopt;
}

std::optional<torch::Tensor> analytic_kl_per_dim(const Distribution& q, const Distribution& p) {
  const Normal* qn = q.diagonal_gaussian();
  const Normal* pn = p.diagonal_gaussian();
  if (qn != nullptr && pn != nullptr) return kl_divergence_per_dim(*qn, *pn);
  return std::nullopt;
}

}  // namespace lvm
