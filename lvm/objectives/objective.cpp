#include "lvm/objectives/objective.h"

#include <cmath>
#include <optional>
#include <stdexcept>
#include <tuple>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/distributions/kl.h"

namespace lvm {

void ObjectiveResult::backward() const {
  if (custom_backward) {
    custom_backward();
  } else {
    loss.backward();
  }
}

ObjectiveResult elbo(LatentVariableModel& model, const torch::Tensor& x, int64_t k, KlMode kl_mode) {
  TORCH_CHECK(k >= 1, "elbo: k must be >= 1, got ", k);
  const auto q = model.proposal(x);
  TORCH_CHECK(q != nullptr, "elbo: model '", model.kind(), "' has no proposal q(z|x)");
  std::optional<torch::Tensor> closed_kl;
  if (kl_mode == KlMode::kAnalytic) closed_kl = analytic_kl(*q, *model.prior());
  torch::Tensor z, kl;
  if (closed_kl) {
    z = q->rsample({k});  // [k, B, Z]
    kl = *closed_kl;
  } else {
    // log q from the draw itself, so that a flow posterior (no log_prob of arbitrary z) plugs in.
    torch::Tensor log_q;
    std::tie(z, log_q) = q->rsample_with_log_prob({k});  // [k, B, Z], [k, B]
    kl = (log_q - model.prior()->log_prob(z)).mean(0);
  }
  const auto rec = model.log_likelihood(x, z).mean(0);
  const auto value = rec - kl;
  ObjectiveResult result;
  result.loss = -value.mean();
  result.value = value.detach();
  result.rec = rec.detach();
  result.kl = kl.detach();
  return result;
}

ObjectiveResult iwae(LatentVariableModel& model, const torch::Tensor& x, int64_t k, IwaeGradient gradient) {
  TORCH_CHECK(k >= 1, "iwae: k must be >= 1, got ", k);
  const auto q = model.proposal(x);
  TORCH_CHECK(q != nullptr, "iwae: model '", model.kind(), "' has no proposal q(z|x)");
  const double log_k = std::log(static_cast<double>(k));
  ObjectiveResult result;

  if (gradient == IwaeGradient::kStandard) {
    const auto [z, log_q] = q->rsample_with_log_prob({k});  // [k, B, Z], [k, B]
    const auto log_w = model.log_joint(x, z) - log_q;       // [k, B]
    const auto bound = torch::logsumexp(log_w, 0) - log_k;
    result.loss = -bound.mean();
    result.value = bound.detach();
    return result;
  }

  // DReG: with q's parameters stopped inside log q, log w depends on φ only through z, and
  //   ∇φ L_k = E[Σ_k w̃_k² ∂log w_k/∂z_k ∂z_k/∂φ],   ∇θ L_k = E[Σ_k w̃_k ∇θ log w_k],
  // with w̃ the normalised weights (treated as constants). One graph, two surrogates, each
  // differentiated only with respect to its own parameter group.
  const auto z = q->rsample({k});                                         // [k, B, Z]
  const auto log_w = model.log_joint(x, z) - q->detached()->log_prob(z);  // [k, B]
  const auto bound = torch::logsumexp(log_w, 0) - log_k;
  const auto w_tilde = torch::softmax(log_w, 0).detach();
  const double batch = static_cast<double>(x.size(0));
  const auto proposal_surrogate = -(w_tilde.pow(2) * log_w).sum() / batch;
  const auto generative_surrogate = -(w_tilde * log_w).sum() / batch;
  result.loss = -bound.mean();
  result.value = bound.detach();
  auto proposal_params = model.proposal_parameters();
  auto generative_params = model.generative_parameters();
  result.custom_backward = [proposal_surrogate, generative_surrogate, proposal_params, generative_params]() {
    auto accumulate = [](const torch::Tensor& surrogate, const std::vector<torch::Tensor>& params,
                         bool retain) {
      if (params.empty()) return;
      const auto grads = torch::autograd::grad({surrogate}, params, {}, retain, false, /*allow_unused=*/true);
      for (size_t i = 0; i < params.size(); ++i) {
        if (!grads[i].defined()) continue;
        // In place where a gradient exists: it may be a view of the optimiser's flat buffer.
        auto& g = params[i].mutable_grad();
        if (g.defined()) {
          g.add_(grads[i]);
        } else {
          g = grads[i].clone();
        }
      }
    };
    accumulate(proposal_surrogate, proposal_params, /*retain=*/true);
    accumulate(generative_surrogate, generative_params, /*retain=*/false);
  };
  return result;
}

ObjectiveResult exact_log_likelihood(LatentVariableModel& model, const torch::Tensor& x) {
  auto log_px = model.exact_log_marginal(x);
  if (!log_px) {
    throw std::invalid_argument("exact objective: model '" + model.kind() +
                                "' has no exact log p(x); train it on a bound (elbo or iwae)");
  }
  ObjectiveResult result;
  result.loss = -log_px->mean();
  result.value = log_px->detach();
  return result;
}

void ObjectiveConfig::visit_objective_fields(config::FieldVisitor& v) {
  v.choice("objective", objective, {"elbo", "iwae"});
  v.field("k", k, config::at_least(1));
  v.choice("kl", kl, {"analytic", "mc"});
  v.choice("iwae_gradient", iwae_gradient, {"standard", "dreg"});
}

void ObjectiveConfig::check_objective(const config::RuleContext& context) const {
  if (iwae_gradient == "dreg" && objective != "iwae") {
    context.fail("model.iwae_gradient",
                 fmt::format("dreg (doubly reparameterised gradients) is an estimator of the IWAE bound's "
                             "gradient and needs model.objective: iwae, got '{}'",
                             objective));
  }
}

Objective make_objective(const ObjectiveConfig& config) {
  const int64_t k = config.k;
  if (config.objective == "elbo") {
    const KlMode mode = config.kl == "mc" ? KlMode::kMonteCarlo : KlMode::kAnalytic;
    return [k, mode](LatentVariableModel& model, const torch::Tensor& x) { return elbo(model, x, k, mode); };
  }
  if (config.objective == "iwae") {
    const IwaeGradient gradient =
        config.iwae_gradient == "dreg" ? IwaeGradient::kDreg : IwaeGradient::kStandard;
    return [k, gradient](LatentVariableModel& model, const torch::Tensor& x) {
      return iwae(model, x, k, gradient);
    };
  }
  throw std::invalid_argument("model.objective: unknown objective '" + config.objective + "'");
}

}  // namespace lvm
