#pragma once
// The Gaussian mixture's keys of the model section (model.type: gmm).

#include <string>

#include "lvm/config/config.h"

namespace lvm {

struct GmmConfig : config::ModelOptionsBase<GmmConfig> {
  // The mixture's log p(x) is a log-sum-exp over its components: it is always trained on it
  // (kept as a key so that configs may say so).
  std::string objective = "exact";  // exact
  int64_t components = 8;           // K
  std::string covariance = "full";  // full | diag | spherical
  double reg_covar = 1e-6;          // added to every covariance's diagonal: the floor on its eigenvalues
  std::string fit = "em";           // em (closed-form M-steps) | gradient (Adam on the exact log p(x))
  int64_t em_max_steps = 100;
  double em_tol = 1e-3;           // stop when a step gains less than this (mean log-likelihood, nats)
  std::string init = "kmeans++";  // kmeans++ (k-means++ seeds + Lloyd) | random (random points)
  int64_t n_init = 1;             // em: fits from seeds seed, seed+1, ...; the best log-likelihood is kept

  void visit_fields(config::FieldVisitor& v) override;
  void check(const config::ExperimentConfig& config, const config::RuleContext& context) const override;
  std::vector<std::string> training_keys() const override {
    return {"objective", "reg_covar", "fit", "em_max_steps", "em_tol", "init", "n_init"};
  }
};

}  // namespace lvm
