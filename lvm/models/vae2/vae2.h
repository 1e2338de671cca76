#pragma once
// The VAE with two stochastic layers of Burda, Grosse & Salakhutdinov (2016):
//   generative  p(z2) p_θ(z1|z2) p_θ(x|z1),  p(z2) = N(0, I), p_θ(z1|z2) a diagonal Gaussian
//   proposal    q_φ(z1|x) q_φ(z2|z1), both diagonal Gaussians
// each conditional an MLP. The latent the estimators see is the joint z = [z1, z2], [..., Z1 + Z2]:
// the importance-sampled log p(x) and every bound then run over both layers at once.

#include <memory>
#include <string>
#include <vector>

#include "lvm/distributions/joint.h"
#include "lvm/models/latent_variable_model.h"
#include "lvm/nn/decoder.h"
#include "lvm/nn/encoder.h"

namespace lvm {

struct Vae2Options {
  Vae2Options(int64_t data_dim, int64_t latent_dim, int64_t top_latent_dim)
      : data_dim_(data_dim), latent_dim_(latent_dim), top_latent_dim_(top_latent_dim) {}
  TORCH_ARG(int64_t, data_dim);
  TORCH_ARG(int64_t, latent_dim);      // Z1, the layer next to x
  TORCH_ARG(int64_t, top_latent_dim);  // Z2
  TORCH_ARG(std::vector<int64_t>, encoder_hidden) = std::vector<int64_t>{200, 200};      // q(z1|x)
  TORCH_ARG(std::vector<int64_t>, top_encoder_hidden) = std::vector<int64_t>{100, 100};  // q(z2|z1)
  TORCH_ARG(std::vector<int64_t>, top_decoder_hidden) = std::vector<int64_t>{100, 100};  // p(z1|z2)
  TORCH_ARG(std::vector<int64_t>, decoder_hidden) = std::vector<int64_t>{200, 200};      // p(x|z1)
  TORCH_ARG(std::string, activation) = "tanh";
  /// bernoulli | gaussian
  TORCH_ARG(std::string, likelihood) = "bernoulli";
};

class Vae2 : public LatentVariableModel {
 public:
  explicit Vae2(const Vae2Options& options);

  std::string kind() const override { return "vae2"; }
  int64_t data_dim() const override { return options_.data_dim(); }
  /// Z1 + Z2: the joint latent [z1, z2].
  int64_t latent_dim() const override { return options_.latent_dim() + options_.top_latent_dim(); }
  const Vae2Options& options() const { return options_; }

  /// p(z2) p(z1|z2), a value [..., Z1 + Z2] laid out as [z1, z2].
  std::shared_ptr<Distribution> prior() override;
  /// p(x|z1): z [S..., Z1 + Z2] -> over x [S..., D]
  std::shared_ptr<Distribution> likelihood(const torch::Tensor& z) override;
  /// q(z1|x) q(z2|z1): x [B, D] -> batch [B], value [z1, z2]
  std::shared_ptr<Distribution> proposal(const torch::Tensor& x) override;
  torch::Tensor log_likelihood(const torch::Tensor& x, const torch::Tensor& z) override;
  /// Both encoders' weights (DReG treats the pair as q's parameters).
  std::vector<torch::Tensor> proposal_parameters() override;
  bool needs_binary_data() const override { return options_.likelihood() == "bernoulli"; }
  /// The four parts and N(0, I) over z2, composed with the hierarchy's own methods.
  std::unique_ptr<torchscript::ModelScript> script() override;

  /// z [..., Z1 + Z2] -> z1 [..., Z1]
  torch::Tensor bottom(const torch::Tensor& z) const { return z.narrow(-1, 0, options_.latent_dim()); }
  /// z [..., Z1 + Z2] -> z2 [..., Z2]
  torch::Tensor top(const torch::Tensor& z) const {
    return z.narrow(-1, options_.latent_dim(), options_.top_latent_dim());
  }
  nn::GaussianEncoder& encoder() { return encoder_; }
  nn::GaussianEncoder& top_encoder() { return top_encoder_; }
  /// p(z1|z2), a Gaussian conditional of the same form as an encoder.
  nn::GaussianEncoder& top_decoder() { return top_decoder_; }
  std::shared_ptr<nn::DecoderImpl> decoder() { return decoder_; }

 private:
  Vae2Options options_;
  nn::GaussianEncoder encoder_{nullptr};      // q(z1|x)
  nn::GaussianEncoder top_encoder_{nullptr};  // q(z2|z1)
  nn::GaussianEncoder top_decoder_{nullptr};  // p(z1|z2)
  std::shared_ptr<nn::DecoderImpl> decoder_;  // p(x|z1)
};

}  // namespace lvm
