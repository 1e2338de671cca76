#include "lvm/models/latent_variable_model.h"

#include <unordered_set>

#include <torch/torch.h>

#include "lvm/export/script_part.h"

namespace lvm {

torch::Tensor LatentVariableModel::log_likelihood(const torch::Tensor& x, const torch::Tensor& z) {
  return likelihood(z)->log_prob(x);
}

torch::Tensor LatentVariableModel::log_joint(const torch::Tensor& x, const torch::Tensor& z) {
  return prior()->log_prob(z) + log_likelihood(x, z);
}

torch::Tensor LatentVariableModel::sample(int64_t n, bool mean) {
  torch::NoGradGuard no_grad;
  const auto z = prior()->sample({n});
  const auto p_x = likelihood(z);
  return mean ? p_x->mean() : p_x->sample();
}

std::vector<torch::Tensor> LatentVariableModel::generative_parameters() {
  std::unordered_set<const void*> in_proposal;
  for (const auto& p : proposal_parameters()) in_proposal.insert(p.unsafeGetTensorImpl());
  std::vector<torch::Tensor> out;
  for (const auto& p : parameters()) {
    if (in_proposal.count(p.unsafeGetTensorImpl()) == 0) out.push_back(p);
  }
  return out;
}

std::unique_ptr<torchscript::ModelScript> LatentVariableModel::script() { return nullptr; }

}  // namespace lvm
