// model.type: vae2 — its keys, their rules, and its entry in the registry.

#include <array>
#include <numeric>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lvm/models/image_data_rules.h"
#include "lvm/models/registry.h"
#include "lvm/models/vae2/vae2.h"
#include "lvm/models/vae2/vae2_config.h"
#include "lvm/runtime/memory.h"

namespace lvm {

Vae2Config::Vae2Config() {
  // No closed-form KL between the two hierarchies: the ELBO's KL is a Monte Carlo term.
  kl = "mc";
  top_encoder.hidden = {100, 100};
  top_decoder.hidden = {100, 100};
}

void Vae2Config::visit_fields(config::FieldVisitor& v) {
  v.field("latent_dim", latent_dim, config::at_least(1));
  v.field("top_latent_dim", top_latent_dim, config::at_least(1));
  v.section("encoder", encoder);
  v.section("top_encoder", top_encoder);
  v.section("top_decoder", top_decoder);
  v.section("decoder", decoder);
  v.choice("likelihood", likelihood, {"bernoulli", "gaussian"});
  visit_objective_fields(v);
}

void Vae2Config::check(const config::ExperimentConfig& config, const config::RuleContext& context) const {
  if (free_bits > 0) {
    context.fail("model.free_bits",
                 "needs the KL per latent dimension in closed form, which the vae2's two-layer KL has not");
  }
  check_objective(context);
  if (kl == "analytic") {
    context.fail("model.kl",
                 "analytic: KL(q(z1|x) q(z2|z1) || p(z2) p(z1|z2)) has no closed form; the vae2 estimates it "
                 "from its samples (model.kl: mc)");
  }
  const std::array<std::pair<const char*, const nn::PartConfig*>, 4> parts{{{"encoder", &encoder},
                                                                            {"top_encoder", &top_encoder},
                                                                            {"top_decoder", &top_decoder},
                                                                            {"decoder", &decoder}}};
  for (const auto& [key, part] : parts) {
    if (part->type != "mlp") {
      context.fail(fmt::format("model.{}.type", key),
                   fmt::format("{}: the vae2 builds mlp parts only", part->type));
    }
    if (part->activation != encoder.activation) {
      context.fail(
          fmt::format("model.{}.activation", key),
          fmt::format("{} differs from model.encoder.activation {}: the vae2 builds its four parts with "
                      "one activation (Vae2Options); set them to the same",
                      part->activation, encoder.activation));
    }
  }
  check_image_model_data(config, context, "vae2", likelihood);
}

namespace {

int64_t product(const std::vector<int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

MemoryFootprint vae2_footprint(const Vae2Config& c, const std::vector<int64_t>& data_shape) {
  const int64_t data_dim = product(data_shape), z1 = c.latent_dim, z2 = c.top_latent_dim;
  const int64_t decoder_out = c.likelihood == "gaussian" ? 2 * data_dim : data_dim;
  MemoryFootprint size;
  size.parameters = runtime::mlp_weights(data_dim, c.encoder.hidden, 2 * z1) +
                    runtime::mlp_weights(z1, c.top_encoder.hidden, 2 * z2) +
                    runtime::mlp_weights(z2, c.top_decoder.hidden, 2 * z1) +
                    runtime::mlp_weights(z1, c.decoder.hidden, decoder_out);
  size.bytes_per_example =
      static_cast<double>(runtime::mlp_bytes_per_row(data_dim, c.encoder.hidden, 2 * z1));
  // Per sample of z1: q(z2|z1), p(z1|z2), p(x|z1), and the joint z with its log-densities.
  size.bytes_per_sample = static_cast<double>(runtime::mlp_bytes_per_row(z1, c.top_encoder.hidden, 2 * z2) +
                                              runtime::mlp_bytes_per_row(z2, c.top_decoder.hidden, 2 * z1) +
                                              runtime::mlp_bytes_per_row(z1, c.decoder.hidden, decoder_out) +
                                              3 * (z1 + z2) * static_cast<int64_t>(sizeof(float)));
  size.size_keys = fmt::format(
      "model.encoder.hidden [{}], model.top_encoder.hidden [{}], model.top_decoder.hidden [{}], "
      "model.decoder.hidden [{}], model.latent_dim {}, model.top_latent_dim {}",
      fmt::join(c.encoder.hidden, ", "), fmt::join(c.top_encoder.hidden, ", "),
      fmt::join(c.top_decoder.hidden, ", "), fmt::join(c.decoder.hidden, ", "), z1, z2);
  size.samples_key = "model.k";
  return size;
}

}  // namespace

namespace models {

ModelSpec vae2_model() {
  ModelSpec spec;
  spec.type = "vae2";
  spec.description =
      "VAE with two stochastic layers (Burda et al. 2016): q(z1|x) q(z2|z1), p(z2) p(z1|z2) p(x|z1), MLPs";
  spec.default_options = [] { return std::make_unique<Vae2Config>(); };
  spec.build = [](const config::ModelOptions& options, const std::vector<int64_t>& data_shape) {
    const auto& c = options_as<Vae2Config>(options);
    return std::make_shared<Vae2>(Vae2Options(product(data_shape), c.latent_dim, c.top_latent_dim)
                                      .encoder_hidden(c.encoder.hidden)
                                      .top_encoder_hidden(c.top_encoder.hidden)
                                      .top_decoder_hidden(c.top_decoder.hidden)
                                      .decoder_hidden(c.decoder.hidden)
                                      .activation(c.encoder.activation)
                                      .likelihood(c.likelihood));
  };
  spec.footprint = [](const config::ModelOptions& options, const std::vector<int64_t>& data_shape) {
    return vae2_footprint(options_as<Vae2Config>(options), data_shape);
  };
  spec.objective = [](const config::ModelOptions& options) {
    return make_objective(options_as<Vae2Config>(options));
  };
  return spec;
}

}  // namespace models
}  // namespace lvm
