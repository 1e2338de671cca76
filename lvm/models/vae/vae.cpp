#include "lvm/models/vae/vae.h"

#include <stdexcept>

#include <torch/torch.h>

#include "lvm/export/amortised.h"

namespace lvm {

Vae::Vae(const VaeOptions& options) : options_(options) {
  TORCH_CHECK(options.data_dim() > 0 && options.latent_dim() > 0,
              "Vae: data_dim and latent_dim must be positive");
  encoder_ = register_module("encoder", nn::GaussianEncoder(options.data_dim(), options.encoder_hidden(),
                                                            options.latent_dim(), options.activation()));
  if (options.likelihood() == "bernoulli") {
    decoder_ = std::make_shared<nn::BernoulliDecoderImpl>(options.latent_dim(), options.decoder_hidden(),
                                                          options.data_dim(), options.activation());
  } else if (options.likelihood() == "gaussian") {
    decoder_ = std::make_shared<nn::GaussianDecoderImpl>(options.latent_dim(), options.decoder_hidden(),
                                                         options.data_dim(), options.activation());
  } else {
    throw std::invalid_argument("Vae: unknown likelihood '" + options.likelihood() +
                                "' (expected bernoulli or gaussian)");
  }
  register_module("decoder", decoder_);
}

std::shared_ptr<Distribution> Vae::prior() {
  const auto options = encoder_->parameters().front().options();
  return std::make_shared<Normal>(Normal::standard(options_.latent_dim(), options));
}

std::shared_ptr<Distribution> Vae::likelihood(const torch::Tensor& z) { return decoder_->forward(z); }

std::shared_ptr<Distribution> Vae::proposal(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == options_.data_dim(), "Vae: expected x of shape [B, ",
              options_.data_dim(), "], got ", x.sizes());
  return std::make_shared<Normal>(encode(x));
}

torch::Tensor Vae::log_likelihood(const torch::Tensor& x, const torch::Tensor& z) {
  return decoder_->log_likelihood(x, z);
}

std::unique_ptr<torchscript::ModelScript> Vae::script() {
  auto out = torchscript::amortised_model_script(
      *this, "ExportedVae", encoder_->script(), decoder_->script(),
      torchscript::standard_normal_prior_script(latent_dim(), parameters().front().scalar_type()));
  return std::make_unique<torchscript::ModelScript>(std::move(out));
}

}  // namespace lvm
