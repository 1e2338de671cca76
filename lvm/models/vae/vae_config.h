#pragma once
// The VAE's keys of the model section (model.type: vae).

#include <string>
#include <vector>

#include "lvm/config/config.h"
#include "lvm/nn/part_config.h"
#include "lvm/objectives/objective.h"

namespace lvm {

struct VaeConfig : config::ModelOptionsBase<VaeConfig>, ObjectiveConfig {
  int64_t latent_dim = 50;
  // q(z|x) and p(x|z): parts chosen by config (lvm/nn/part_config.h), each an MLP with hidden
  // [200, 200] and tanh by default. The VAE takes one activation for both (VaeOptions), so the
  // two parts' activations must agree (check() says so). The flat keys of lvm 0.1
  // (encoder_hidden, decoder_hidden, activation) are still read into these sections.
  nn::PartConfig encoder;
  nn::PartConfig decoder;
  std::string likelihood = "bernoulli";  // bernoulli | gaussian

  void visit_fields(config::FieldVisitor& v) override;
  void check(const config::ExperimentConfig& config, const config::RuleContext& context) const override;
  std::vector<std::string> training_keys() const override {
    return objective_keys();
  }
  int64_t samples_per_example() const override { return k; }
};

}  // namespace lvm
