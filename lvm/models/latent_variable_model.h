#pragma once
// p(x) = ∫ p(z) p_θ(x|z) dz: the one interface every model implements, and the only thing
// estimators and objectives see. Shapes: x [B, D]; continuous z [K, B, Z] (K samples per
// example), or int64 [K, B] for a discrete latent.

#include <memory>
#include <optional>
#include <string>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "lvm/distributions/distribution.h"

namespace lvm {

namespace torchscript {
struct ModelScript;
}

class LatentVariableModel : public torch::nn::Module {
 public:
  /// Human-readable kind, e.g. "vae", "gmm", "linear_gaussian".
  virtual std::string kind() const = 0;
  virtual int64_t data_dim() const = 0;
  /// Z, or the number of classes for a discrete latent.
  virtual int64_t latent_dim() const = 0;

  /// p(z), with batch shape [] (values [..., Z], or [...] for a discrete latent).
  virtual std::shared_ptr<Distribution> prior() = 0;
  /// p_θ(x|z): z [S..., Z] -> distribution with batch shape [S...] over x [S..., D].
  virtual std::shared_ptr<Distribution> likelihood(const torch::Tensor& z) = 0;
  /// q(z|x), the model's proposal / approximate posterior, if it has one: x [B, D] -> batch [B].
  virtual std::shared_ptr<Distribution> proposal(const torch::Tensor& x) { return nullptr; }
  /// Exact log p(x) where it is tractable: x [B, D] -> [B].
  virtual std::optional<torch::Tensor> exact_log_marginal(const torch::Tensor& x) { return std::nullopt; }

  /// log p_θ(x|z): x [B, D], z [K, B, Z] -> [K, B]. Models may override with a faster fused form.
  virtual torch::Tensor log_likelihood(const torch::Tensor& x, const torch::Tensor& z);
  /// log p(z) + log p_θ(x|z): -> [K, B]
  torch::Tensor log_joint(const torch::Tensor& x, const torch::Tensor& z);
  /// Parameters of the proposal q(z|x) (the encoder), kept apart from the generative ones so
  /// that objectives such as DReG can give each group its own gradient estimator.
  virtual std::vector<torch::Tensor> proposal_parameters() { return {}; }
  /// Every parameter not in proposal_parameters().
  std::vector<torch::Tensor> generative_parameters();

  /// Whether p(x|z) is a distribution over binary x only (a Bernoulli likelihood): on grey levels
  /// its values are cross-entropies, not log-likelihoods.
  virtual bool needs_binary_data() const { return false; }

  /// x ~ p(x): z ~ p(z), x ~ p_θ(x|z) -> [n, D]; with `mean`, E[x|z] instead of a draw.
  torch::Tensor sample(int64_t n, bool mean = false);

  /// The model as TorchScript for `lvm export` (lvm/export/script_part.h), composed from its
  /// parts; nullptr (the default) when the model has no exported form.
  virtual std::unique_ptr<torchscript::ModelScript> script();
};

}  // namespace lvm
