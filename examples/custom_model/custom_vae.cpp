#include "custom_vae.h"

#include <algorithm>

#include <fmt/format.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <lvm/distributions/bernoulli.h>
#include <lvm/distributions/normal.h>
#include <lvm/export/amortised.h>

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

lvm::torchscript::ScriptedPart OffsetDecoderImpl::script() {
  namespace ts = lvm::torchscript;
  ts::ScriptedPart part;
  part.module = ts::new_part_module("OffsetDecoder");
  ts::add_weight(part.module, "hidden_w", hidden_->weight);
  ts::add_weight(part.module, "hidden_b", hidden_->bias);
  ts::add_weight(part.module, "out_w", out_->weight);
  ts::add_weight(part.module, "out_b", out_->bias);
  ts::add_weight(part.module, "offset", offset_);
  part.module.define(ts::bernoulli_methods() + R"(
def params(self, z: Tensor) -> Tensor:
    h = torch.softplus(torch.linear(z, self.hidden_w, self.hidden_b))
    return torch.linear(h, self.out_w, self.out_b) + self.offset

def log_prob(self, x: Tensor, z: Tensor) -> Tensor:
    return self._bernoulli_log_prob(x, self.params(z))

def mean(self, z: Tensor) -> Tensor:
    return torch.sigmoid(self.params(z))

def sample(self, z: Tensor) -> Tensor:
    return torch.bernoulli(torch.sigmoid(self.params(z)))
)");
  part.facade_source = R"(
def decode(self, z: Tensor) -> Tensor:
    return self.decoder.mean(self._check_z(z))
)";
  part.facade_methods = {"decode"};
  part.string_attributes = {{"likelihood", "bernoulli"}};
  part.max_width = std::max({hidden_->weight.size(0), hidden_->weight.size(1), out_->weight.size(0)});
  return part;
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

std::unique_ptr<lvm::torchscript::ModelScript> CustomVae::script() {
  return std::make_unique<lvm::torchscript::ModelScript>(lvm::torchscript::amortised_model_script(
      *this, "ExportedCustomVae", encoder_->script(), decoder_->script(),
      lvm::torchscript::standard_normal_prior_script(latent_dim_, torch::kFloat)));
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
