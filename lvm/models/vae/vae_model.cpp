// model.type: vae — its keys, their rules, and its entry in the registry.

#include <numeric>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lvm/models/image_data_rules.h"
#include "lvm/models/registry.h"
#include "lvm/models/vae/vae.h"
#include "lvm/models/vae/vae_config.h"
#include "lvm/runtime/memory.h"

namespace lvm {

void VaeConfig::visit_fields(config::FieldVisitor& v) {
  v.field("latent_dim", latent_dim, config::at_least(1));
  v.section("encoder", encoder);
  v.section("decoder", decoder);
  v.choice("likelihood", likelihood, {"bernoulli", "gaussian"});
  visit_objective_fields(v);
  // The flat keys of lvm 0.1 (old runs' config.yaml and checkpoints hold them), read into the
  // parts' sections; a run writes the sections only.
  v.moved("encoder_hidden", {"encoder.hidden"});
  v.moved("decoder_hidden", {"decoder.hidden"});
  v.moved("activation", {"encoder.activation", "decoder.activation"});
}

void VaeConfig::check(const config::ExperimentConfig& config, const config::RuleContext& context) const {
  check_objective(context, latent_dim);
  // The parts Vae builds (lvm/models/vae/vae.h): MLPs, with one activation for both.
  for (const auto& [key, part] : {std::pair{"encoder", &encoder}, std::pair{"decoder", &decoder}}) {
    if (part->type != "mlp") {
      context.fail(fmt::format("model.{}.type", key),
                   fmt::format("{}: the vae builds mlp parts only", part->type));
    }
  }
  if (encoder.activation != decoder.activation) {
    context.fail(
        "model.decoder.activation",
        fmt::format("{} differs from model.encoder.activation {}: the vae builds both parts with one "
                    "activation (VaeOptions); set both to the same",
                    decoder.activation, encoder.activation));
  }
  check_image_model_data(config, context, "vae", likelihood);
}

namespace {

int64_t product(const std::vector<int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

MemoryFootprint vae_footprint(const VaeConfig& c, const std::vector<int64_t>& data_shape) {
  const int64_t data_dim = product(data_shape);
  // A Gaussian decoder outputs a mean and a log-variance per pixel.
  const int64_t decoder_out = c.likelihood == "gaussian" ? 2 * data_dim : data_dim;
  MemoryFootprint size;
  size.parameters = runtime::mlp_weights(data_dim, c.encoder.hidden, 2 * c.latent_dim) +
                    runtime::mlp_weights(c.latent_dim, c.decoder.hidden, decoder_out);
  size.bytes_per_example =
      static_cast<double>(runtime::mlp_bytes_per_row(data_dim, c.encoder.hidden, 2 * c.latent_dim));
  // The decoder's pass, and z with its two log-densities.
  size.bytes_per_sample =
      static_cast<double>(runtime::mlp_bytes_per_row(c.latent_dim, c.decoder.hidden, decoder_out) +
                          3 * c.latent_dim * static_cast<int64_t>(sizeof(float)));
  size.size_keys =
      fmt::format("model.encoder.hidden [{}], model.decoder.hidden [{}], model.latent_dim {}",
                  fmt::join(c.encoder.hidden, ", "), fmt::join(c.decoder.hidden, ", "), c.latent_dim);
  size.samples_key = "model.k";
  return size;
}

}  // namespace

namespace models {

ModelSpec vae_model() {
  ModelSpec spec;
  spec.type = "vae";
  spec.description = "variational autoencoder: MLP encoder q(z|x) and decoder p(x|z), N(0, I) prior";
  spec.default_options = [] { return std::make_unique<VaeConfig>(); };
  spec.build = [](const config::ModelOptions& options, const std::vector<int64_t>& data_shape) {
    const auto& c = options_as<VaeConfig>(options);
    // The parts are MLPs (check() refuses others): they see the data flattened to D values.
    // check() also makes the two activations agree.
    return std::make_shared<Vae>(VaeOptions(product(data_shape), c.latent_dim)
                                     .encoder_hidden(c.encoder.hidden)
                                     .decoder_hidden(c.decoder.hidden)
                                     .activation(c.encoder.activation)
                                     .likelihood(c.likelihood));
  };
  spec.footprint = [](const config::ModelOptions& options, const std::vector<int64_t>& data_shape) {
    return vae_footprint(options_as<VaeConfig>(options), data_shape);
  };
  spec.objective = [](const config::ModelOptions& options) {
    return make_objective(options_as<VaeConfig>(options));
  };
  return spec;
}

}  // namespace models
}  // namespace lvm
