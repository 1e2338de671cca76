#pragma once
// Probability distributions as small value types. Conventions shared by all of them:
//  - the event is the last dimension of a value (a vector of D pixels, a latent code of Z
//    dimensions); everything before it is batch shape. Categorical is the exception: its values
//    are integer indices, with no event dimension.
//  - log_prob includes every normalising constant and sums over the event: value
//    [S..., B..., D] -> [S..., B...], broadcasting the parameters against leading sample dims.
//  - sample(shape) prepends `shape` to the batch shape; rsample is the reparameterised draw
//    (differentiable in the parameters) where one exists.

#include <memory>
#include <utility>

#include <torch/types.h>

namespace lvm {

class Categorical;
class Normal;

class Distribution {
 public:
  virtual ~Distribution() = default;
  /// Draw without gradient: -> [shape..., batch..., event]
  virtual torch::Tensor sample(at::IntArrayRef shape = {}) const = 0;
  /// Reparameterised draw; throws for distributions that have none.
  virtual torch::Tensor rsample(at::IntArrayRef shape = {}) const;
  /// Reparameterised draw z [shape..., batch..., event] with log q(z) [shape..., batch...].
  /// Default: rsample then log_prob. Flows and hierarchical proposals override it: they get
  /// log q of their own draws cheaply (log-determinants) and may lack a log_prob of arbitrary values.
  virtual std::pair<torch::Tensor, torch::Tensor> rsample_with_log_prob(at::IntArrayRef shape = {}) const;
  /// value [S..., batch..., event] -> [S..., batch...]
  virtual torch::Tensor log_prob(const torch::Tensor& value) const = 0;
  /// The same distribution with parameters detached from the autograd graph (used by DReG).
  virtual std::shared_ptr<Distribution> detached() const = 0;
  /// Mean of the distribution: [batch..., event]
  virtual torch::Tensor mean() const = 0;
  /// The diagonal Gaussian this distribution is, if it is one (else nullptr). Operations that truly
  /// need one (refinement, traversals, per-dimension KL) ask this and refuse clearly otherwise.
  virtual const Normal* diagonal_gaussian() const { return nullptr; }
  /// The categorical this distribution is, if it is one (a discrete latent's posterior, e.g. a
  /// mixture's responsibilities), else nullptr.
  virtual const Categorical* categorical() const { return nullptr; }
};

}  // namespace lvm
