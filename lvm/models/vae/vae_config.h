#pragma once
// The VAE's keys of the model section (model.type: vae).

#include <string>
#include <vector>

#include "lvm/config/config.h"
#include "lvm/objectives/objective.h"

namespace lvm {

struct VaeConfig : config::ModelOptionsBase<VaeConfig>, ObjectiveConfig {
  int64_t latent_dim = 50;
  std::vector<int64_t> encoder_hidden = {200, 200};
  std::vector<int64_t> decoder_hidden = {200, 200};
  std::string activation = "tanh";       // tanh | relu | elu | softplus
  std::string likelihood = "bernoulli";  // bernoulli | gaussian

  void visit_fields(config::FieldVisitor& v) override;
  void check(const config::ExperimentConfig& config, const config::RuleContext& context) const override;
  std::vector<std::string> training_keys() const override {
    return {"objective", "k", "kl", "iwae_gradient"};
  }
  int64_t samples_per_example() const override { return k; }
};

}  // namespace lvm
