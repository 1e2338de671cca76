// model.type: gmm — its keys, their rules, and its entry in the registry.

#include <fmt/format.h>

#include "lvm/models/gmm/gaussian_mixture.h"
#include "lvm/models/gmm/gmm_config.h"
#include "lvm/models/gmm/gmm_trainer.h"
#include "lvm/models/registry.h"

namespace lvm {

void GmmConfig::visit_fields(config::FieldVisitor& v) {
  v.choice("objective", objective, {"exact"});
  v.field("components", components, config::at_least(1));
  v.choice("covariance", covariance, {"full", "diag", "spherical"});
  v.field("reg_covar", reg_covar, config::greater_than(0));
  v.choice("fit", fit, {"em", "gradient"});
  v.field("em_max_steps", em_max_steps, config::at_least(1));
  v.field("em_tol", em_tol, config::at_least(0));
  v.choice("init", init, {"kmeans++", "random"});
  v.field("n_init", n_init, config::at_least(1));
}

void GmmConfig::check(const config::ExperimentConfig& config, const config::RuleContext& context) const {
  if (n_init > 1 && fit != "em") {
    context.fail("model.n_init",
                 fmt::format("several initialisations (n_init {}) are for model.fit: em; a gradient fit "
                             "starts once",
                             n_init));
  }
  if (!config::is_vector_dataset(config.data) && config.data.binarize == "dynamic") {
    context.fail("data.binarize",
                 "dynamic binarisation redraws the data every epoch, which a Gaussian mixture fitted by EM "
                 "cannot use: set data.binarize: none (grey levels) or static");
  }
}

namespace models {

ModelSpec gmm_model() {
  ModelSpec spec;
  spec.type = "gmm";
  spec.description = "Gaussian mixture: a categorical z over K components, exact log p(x), fitted by EM";
  spec.default_options = [] { return std::make_unique<GmmConfig>(); };
  spec.build = [](const config::ModelOptions& options, const std::vector<int64_t>& data_shape) {
    const auto& c = options_as<GmmConfig>(options);
    int64_t data_dim = 1;
    for (const int64_t n : data_shape) data_dim *= n;
    return std::make_shared<GaussianMixture>(GaussianMixtureOptions(data_dim, c.components)
                                                 .covariance(parse_covariance_type(c.covariance))
                                                 .reg_covar(c.reg_covar));
  };
  spec.objective = [](const config::ModelOptions&) -> Objective { return exact_log_likelihood; };
  spec.fit = [](const train::TrainRequest& request) {
    return train::gmm_summary_line(train::train_gmm(request));
  };
  return spec;
}

}  // namespace models
}  // namespace lvm
