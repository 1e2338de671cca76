#pragma once
// model.type: custom_vae — a VAE whose encoder is lvm's MLP part and whose decoder is written
// here: z -> softplus(W1 z + b1) -> logits = W2 h + b2 + a learned per-pixel offset, Bernoulli
// pixels. Nothing of it is in lvm; main.cpp registers it. The decoder scripts itself for
// TorchScript export (the decoder contract of lvm/export/script_part.h), and the model hands it,
// with lvm's encoder and prior, to lvm's composer: the export needs nothing else.

#include <memory>
#include <vector>

#include <lvm/config/config.h>
#include <lvm/export/script_part.h>
#include <lvm/models/latent_variable_model.h>
#include <lvm/models/registry.h>
#include <lvm/nn/encoder.h>
#include <lvm/objectives/objective.h>

namespace custom {

/// The model's keys of the config's model section, with the objective keys lvm offers.
struct CustomVaeKeys : lvm::config::ModelOptionsBase<CustomVaeKeys>, lvm::ObjectiveConfig {
  int64_t latent_dim = 8;
  std::vector<int64_t> encoder_hidden = {64};
  int64_t decoder_width = 64;

  void visit_fields(lvm::config::FieldVisitor& v) override;
  void check(const lvm::config::ExperimentConfig& config,
             const lvm::config::RuleContext& context) const override;
  std::vector<std::string> training_keys() const override {
    return {"objective", "k", "kl", "iwae_gradient"};
  }
  int64_t samples_per_example() const override { return k; }
};

/// The user-written decoder: z [S..., Z] -> logits [S..., D].
class OffsetDecoderImpl : public torch::nn::Module {
 public:
  OffsetDecoderImpl(int64_t latent_dim, int64_t width, int64_t data_dim);
  torch::Tensor forward(const torch::Tensor& z);
  /// The same network in TorchScript, as a decoder part with a decode(z) facade.
  lvm::torchscript::ScriptedPart script();

 private:
  torch::nn::Linear hidden_{nullptr}, out_{nullptr};
  torch::Tensor offset_;  // [D]
};
TORCH_MODULE(OffsetDecoder);

class CustomVae : public lvm::LatentVariableModel {
 public:
  CustomVae(int64_t data_dim, const CustomVaeKeys& keys);

  std::string kind() const override { return "custom_vae"; }
  int64_t data_dim() const override { return data_dim_; }
  int64_t latent_dim() const override { return latent_dim_; }
  bool needs_binary_data() const override { return true; }

  std::shared_ptr<lvm::Distribution> prior() override;
  /// z [S..., Z] -> Bernoulli over x [S..., D]
  std::shared_ptr<lvm::Distribution> likelihood(const torch::Tensor& z) override;
  /// x [B, D] -> Normal over z [B, Z]
  std::shared_ptr<lvm::Distribution> proposal(const torch::Tensor& x) override;
  std::vector<torch::Tensor> proposal_parameters() override { return encoder_->parameters(); }
  /// lvm's encoder, this decoder and N(0, I), composed by lvm/export/amortised.h.
  std::unique_ptr<lvm::torchscript::ModelScript> script() override;

 private:
  int64_t data_dim_, latent_dim_;
  lvm::nn::GaussianEncoder encoder_{nullptr};
  OffsetDecoder decoder_{nullptr};
};

/// The registry entry of custom_vae.
lvm::ModelSpec custom_vae_spec();

}  // namespace custom
