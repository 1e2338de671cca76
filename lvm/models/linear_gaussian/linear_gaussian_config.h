#pragma once
// The linear-Gaussian model's keys of the model section (model.type: linear_gaussian).

#include <string>

#include "lvm/config/config.h"

namespace lvm {

struct LinearGaussianConfig : config::ModelOptionsBase<LinearGaussianConfig> {
  int64_t latent_dim = 10;
  double noise_std = 1.0;   // σ at initialisation (learned)
  double weight_std = 0.1;  // W's entries start as N(0, weight_std²); b starts at 0

  void visit_fields(config::FieldVisitor& v) override;
  void check(const config::ExperimentConfig& config, const config::RuleContext& context) const override;
  std::vector<std::string> training_keys() const override { return {"noise_std", "weight_std"}; }
};

}  // namespace lvm
