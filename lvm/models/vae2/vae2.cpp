#include "lvm/models/vae2/vae2.h"

#include <stdexcept>

#include <torch/torch.h>

namespace lvm {

Vae2::Vae2(const Vae2Options& options) : options_(options) {
  TORCH_CHECK(options.data_dim() > 0 && options.latent_dim() > 0 && options.top_latent_dim() > 0,
              "Vae2: data_dim and both latent sizes must be positive");
  const int64_t z1 = options.latent_dim(), z2 = options.top_latent_dim();
  encoder_ = register_module(
      "encoder", nn::GaussianEncoder(options.data_dim(), options.encoder_hidden(), z1, options.activation()));
  top_encoder_ = register_module(
      "top_encoder", nn::GaussianEncoder(z1, options.top_encoder_hidden(), z2, options.activation()));
  top_decoder_ = register_module(
      "top_decoder", nn::GaussianEncoder(z2, options.top_decoder_hidden(), z1, options.activation()));
  if (options.likelihood() == "bernoulli") {
    decoder_ = std::make_shared<nn::BernoulliDecoderImpl>(z1, options.decoder_hidden(), options.data_dim(),
                                                          options.activation());
  } else if (options.likelihood() == "gaussian") {
    decoder_ = std::make_shared<nn::GaussianDecoderImpl>(z1, options.decoder_hidden(), options.data_dim(),
                                                         options.activation());
  } else {
    throw std::invalid_argument("Vae2: unknown likelihood '" + options.likelihood() +
                                "' (expected bernoulli or gaussian)");
  }
  register_module("decoder", decoder_);
}

std::shared_ptr<Distribution> Vae2::prior() {
  using Factor = JointDistribution::Factor;
  const auto options = encoder_->parameters().front().options();
  auto top = std::make_shared<Normal>(Normal::standard(options_.top_latent_dim(), options));
  auto given_top = [net = top_decoder_](
                       const std::vector<torch::Tensor>& earlier) mutable -> std::shared_ptr<Distribution> {
    return std::make_shared<Normal>(net->forward(earlier[0]));
  };
  auto given_top_stopped =
      [net =
           top_decoder_](const std::vector<torch::Tensor>& earlier) mutable -> std::shared_ptr<Distribution> {
    return std::make_shared<Normal>(net->forward_with_stopped_weights(earlier[0]));
  };
  // Drawn top-down, laid out bottom-up like the proposal's draws.
  return std::make_shared<JointDistribution>(
      std::vector<Factor>{Factor::of(top, options_.top_latent_dim()),
                          Factor::given(given_top, options_.latent_dim(), given_top_stopped)},
      JointDistribution::GroupOrder::kReversed);
}

std::shared_ptr<Distribution> Vae2::likelihood(const torch::Tensor& z) {
  return decoder_->forward(bottom(z));
}

std::shared_ptr<Distribution> Vae2::proposal(const torch::Tensor& x) {
  using Factor = JointDistribution::Factor;
  TORCH_CHECK(x.dim() == 2 && x.size(1) == options_.data_dim(), "Vae2: expected x of shape [B, ",
              options_.data_dim(), "], got ", x.sizes());
  auto given_bottom = [net = top_encoder_](const std::vector<torch::Tensor>& earlier) mutable
      -> std::shared_ptr<Distribution> { return std::make_shared<Normal>(net->forward(earlier[0])); };
  // DReG's log q: q(z2|z1)'s weights stopped, the path through z1 kept.
  auto given_bottom_stopped =
      [net =
           top_encoder_](const std::vector<torch::Tensor>& earlier) mutable -> std::shared_ptr<Distribution> {
    return std::make_shared<Normal>(net->forward_with_stopped_weights(earlier[0]));
  };
  return std::make_shared<JointDistribution>(
      std::vector<Factor>{Factor::of(std::make_shared<Normal>(encoder_->forward(x)), options_.latent_dim()),
                          Factor::given(given_bottom, options_.top_latent_dim(), given_bottom_stopped)});
}

torch::Tensor Vae2::log_likelihood(const torch::Tensor& x, const torch::Tensor& z) {
  return decoder_->log_likelihood(x, bottom(z));
}

std::vector<torch::Tensor> Vae2::proposal_parameters() {
  auto parameters = encoder_->parameters();
  for (const auto& p : top_encoder_->parameters()) parameters.push_back(p);
  return parameters;
}

}  // namespace lvm
