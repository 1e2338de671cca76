// model.type: linear_gaussian — probabilistic PCA, trained by gradient on its exact log p(x).

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/models/linear_gaussian/linear_gaussian.h"
#include "lvm/models/linear_gaussian/linear_gaussian_config.h"
#include "lvm/models/registry.h"

namespace lvm {

void LinearGaussianConfig::visit_fields(config::FieldVisitor& v) {
  v.field("latent_dim", latent_dim, config::at_least(1));
  v.field("noise_std", noise_std, config::greater_than(0));
  v.field("weight_std", weight_std, config::at_least(0));
}

void LinearGaussianConfig::check(const config::ExperimentConfig& config,
                                 const config::RuleContext& context) const {
  if (config::is_vector_dataset(config.data)) {
    context.fail("data.dataset", fmt::format("{} data: model.type linear_gaussian trains on image data sets "
                                             "(mnist, fashion_mnist) for now",
                                             config.data.dataset));
  }
}

namespace models {

ModelSpec linear_gaussian_model() {
  ModelSpec spec;
  spec.type = "linear_gaussian";
  spec.description = "linear-Gaussian model (probabilistic PCA): exact log p(x) and exact posterior";
  spec.default_options = [] { return std::make_unique<LinearGaussianConfig>(); };
  spec.build = [](const config::ModelOptions& options, const std::vector<int64_t>& data_shape) {
    const auto& c = options_as<LinearGaussianConfig>(options);
    int64_t data_dim = 1;
    for (const int64_t n : data_shape) data_dim *= n;
    // Drawn from the global generator, which the trainer seeds with train.seed.
    const auto weight = torch::randn({data_dim, c.latent_dim}) * c.weight_std;
    return std::make_shared<LinearGaussian>(weight, torch::zeros({data_dim}), c.noise_std);
  };
  spec.objective = [](const config::ModelOptions&) -> Objective { return exact_log_likelihood; };
  return spec;
}

}  // namespace models
}  // namespace lvm
