#pragma once
// Variational autoencoder (Kingma & Welling 2014): p(z) = N(0, I), p_θ(x|z) from a decoder
// network, and an amortised proposal q_φ(z|x) = N(μ_φ(x), diag σ²_φ(x)) from an encoder network.

#include <string>
#include <vector>

#include "lvm/models/latent_variable_model.h"
#include "lvm/nn/decoder.h"
#include "lvm/nn/encoder.h"

namespace lvm {

struct VaeOptions {
  VaeOptions(int64_t data_dim, int64_t latent_dim) : data_dim_(data_dim), latent_dim_(latent_dim) {}
  TORCH_ARG(int64_t, data_dim);
  TORCH_ARG(int64_t, latent_dim);
  TORCH_ARG(std::vector<int64_t>, encoder_hidden) = std::vector<int64_t>{200, 200};
  TORCH_ARG(std::vector<int64_t>, decoder_hidden) = std::vector<int64_t>{200, 200};
  TORCH_ARG(std::string, activation) = "tanh";
  /// bernoulli | gaussian
  TORCH_ARG(std::string, likelihood) = "bernoulli";
};

class Vae : public LatentVariableModel {
 public:
  explicit Vae(const VaeOptions& options);

  std::string kind() const override { return "vae"; }
  int64_t data_dim() const override { return options_.data_dim(); }
  int64_t latent_dim() const override { return options_.latent_dim(); }
  const VaeOptions& options() const { return options_; }

  std::shared_ptr<Distribution> prior() override;
  std::shared_ptr<Distribution> likelihood(const torch::Tensor& z) override;
  std::shared_ptr<Distribution> proposal(const torch::Tensor& x) override;
  torch::Tensor log_likelihood(const torch::Tensor& x, const torch::Tensor& z) override;
  std::vector<torch::Tensor> proposal_parameters() override { return encoder_->parameters(); }
  bool needs_binary_data() const override { return options_.likelihood() == "bernoulli"; }
  /// Its encoder, decoder and N(0, I) prior composed by lvm/export/amortised.h.
  std::unique_ptr<torchscript::ModelScript> script() override;

  /// q_φ(z|x): x [B, D] -> Normal with mean, log_var [B, Z]
  Normal encode(const torch::Tensor& x) { return encoder_->forward(x); }
  nn::GaussianEncoder& encoder() { return encoder_; }
  std::shared_ptr<nn::DecoderImpl> decoder() { return decoder_; }

 private:
  VaeOptions options_;
  nn::GaussianEncoder encoder_{nullptr};
  std::shared_ptr<nn::DecoderImpl> decoder_;
};

}  // namespace lvm
