// model.type: vae — its keys, their rules, and its entry in the registry.

#include <numeric>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

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
  const config::DataConfig& data = config.data;
  if (likelihood == "bernoulli" && data.binarize == "none" && !data.bernoulli_on_grey) {
    context.fail("data.binarize",
                 "none with model.likelihood: bernoulli: a Bernoulli likelihood on grey levels in [0,1] is a "
                 "cross-entropy, not a likelihood (it is not normalised over the grey values, so its "
                 "log-likelihood cannot be compared with published results); binarise the data "
                 "(data.binarize: dynamic or static), use model.likelihood: gaussian, or set "
                 "data.bernoulli_on_grey: true to train on grey levels anyway");
  }
  if (config::is_vector_dataset(data)) {
    context.fail("data.dataset",
                 fmt::format("{} data are vectors, for a model of vectors such as model.type: gmm; a vae "
                             "trains on images (mnist, fashion_mnist)",
                             data.dataset));
  }
  if (data.pca_dim > 0) {
    context.fail("data.pca_dim", "PCA projection is for vector data (a model such as gmm), not for a vae");
  }
}

namespace {

// Weights of an MLP in -> hidden... -> out (biases included).
double mlp_weights(int64_t in, const std::vector<int64_t>& hidden, int64_t out) {
  double total = 0;
  int64_t from = in;
  for (const int64_t h : hidden) {
    total += static_cast<double>(from + 1) * static_cast<double>(h);
    from = h;
  }
  return total + static_cast<double>(from + 1) * static_cast<double>(out);
}

int64_t product(const std::vector<int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

MemoryFootprint vae_footprint(const VaeConfig& c, const std::vector<int64_t>& data_shape) {
  const int64_t data_dim = product(data_shape);
  // A Gaussian decoder outputs a mean and a log-variance per pixel.
  const int64_t decoder_out = c.likelihood == "gaussian" ? 2 * data_dim : data_dim;
  MemoryFootprint size;
  size.parameters = mlp_weights(data_dim, c.encoder.hidden, 2 * c.latent_dim) +
                    mlp_weights(c.latent_dim, c.decoder.hidden, decoder_out);
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
