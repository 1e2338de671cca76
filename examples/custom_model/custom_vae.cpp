#include "custom_vae.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <lvm/distributions/bernoulli.h>
#include <lvm/distributions/normal.h>

namespace custom {

void CustomVaeKeys::visit_fields(lvm::config::FieldVisitor& v) {
  v.field("latent_dim", latent_dim, lvm::config::at_least(1));
  v.field("encoder_hidden", encoder_hidden, lvm::config::at_least(1));
  v.field("decoder_width", decoder_width, lvm::config::at_least(1));
  visit_objective_fields(v);
}

void CustomVaeKeys::check(const lvm::config::ExperimentConfig& config,
                          const lvm::config::RuleContext& context) const {
  check_objective(context);
  if (config.data.binarize == "none") {
    context.fail("data.binarize", "custom_vae has Bernoulli pixels: binarise the data (dynamic or static)");
  }
}

OffsetDecoderImpl::OffsetDecoderImpl(int64_t latent_dim, int64_t width, int64_t data_dim)
    : hidden_(register_module("hidden", torch::nn::Linear(latent_dim, width))),
      out_(register_module("out", torch::nn::Linear(width, data_dim))),
      offset_(register_parameter("offset", torch::zeros({data_dim}))) {}

torch::Tensor OffsetDecoderImpl::forward(const torch::Tensor& z) {
  return out_(torch::softplus(hidden_(z))) + offset_;
}

CustomVae::CustomVae(int64_t data_dim, const CustomVaeKeys& keys)
    : data_dim_(data_dim),
      latent_dim_(keys.latent_dim),
      encoder_(register_module(
          "encoder", lvm::nn::GaussianEncoder(data_dim, keys.encoder_hidden, keys.latent_dim, "tanh"))),
      decoder_(register_module("decoder", OffsetDecoder(keys.latent_dim, keys.decoder_width, data_dim))) {}

std::shared_ptr<lvm::Distribution> CustomVae::prior() {
  return std::make_shared<lvm::Normal>(lvm::Normal::standard(latent_dim_, parameters().front().options()));
}

std::shared_ptr<lvm::Distribution> CustomVae::likelihood(const torch::Tensor& z) {
  return std::make_shared<lvm::Bernoulli>(decoder_->forward(z));
}

std::shared_ptr<lvm::Distribution> CustomVae::proposal(const torch::Tensor& x) {
  return std::make_shared<lvm::Normal>(encoder_->forward(x));
}

lvm::ModelSpec custom_vae_spec() {
  lvm::ModelSpec spec;
  spec.type = "custom_vae";
  spec.description = "VAE with lvm's MLP encoder and a decoder written in examples/custom_model";
  spec.default_options = [] { return std::make_unique<CustomVaeKeys>(); };
  spec.build = [](const lvm::config::ModelOptions& options, const std::vector<int64_t>& data_shape) {
    int64_t data_dim = 1;
    for (const int64_t n : data_shape) data_dim *= n;
    return std::make_shared<CustomVae>(data_dim, lvm::options_as<CustomVaeKeys>(options));
  };
  spec.objective = [](const lvm::config::ModelOptions& options) {
    return lvm::make_objective(lvm::options_as<CustomVaeKeys>(options));
  };
  return spec;
}

}  // namespace custom
