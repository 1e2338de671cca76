#pragma once
// The two-layer VAE's keys of the model section (model.type: vae2).

#include <string>
#include <vector>

#include "lvm/config/config.h"
#include "lvm/nn/part_config.h"
#include "lvm/objectives/objective.h"

namespace lvm {

struct Vae2Config : config::ModelOptionsBase<Vae2Config>, ObjectiveConfig {
  Vae2Config();

  int64_t latent_dim = 100;     // Z1, next to x (Burda et al.: 100)
  int64_t top_latent_dim = 50;  // Z2 (Burda et al.: 50)
  // MLP parts: q(z1|x) and p(x|z1) with hidden [200, 200], q(z2|z1) and p(z1|z2) with [100, 100],
  // all with one activation (Vae2Options), tanh by default.
  nn::PartConfig encoder;
  nn::PartConfig decoder;
  nn::PartConfig top_encoder;
  nn::PartConfig top_decoder;
  std::string likelihood = "bernoulli";  // bernoulli | gaussian

  void visit_fields(config::FieldVisitor& v) override;
  void check(const config::ExperimentConfig& config, const config::RuleContext& context) const override;
  std::vector<std::string> training_keys() const override { return objective_keys(); }
  int64_t samples_per_example() const override { return k; }
};

}  // namespace lvm
