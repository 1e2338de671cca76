#include "lvm/objectives/objective.h"

#include <cmath>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <utility>

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

namespace {

// Σ_g max(λ, mean_b KL_{b,g}) from the per-dimension KL [B, Z]: the free-bits KL of the batch.
torch::Tensor free_bits_kl(const torch::Tensor& kl_per_dim, const KlPenalty& penalty) {
  const int64_t latent = kl_per_dim.size(-1);
  TORCH_CHECK(latent % penalty.free_bits_group == 0, "elbo: free_bits_group ", penalty.free_bits_group,
              " does not divide the latent dimension ", latent);
  const auto per_group =
      kl_per_dim.reshape({-1, latent / penalty.free_bits_group, penalty.free_bits_group}).sum(-1);  // [B, G]
  return torch::clamp_min(per_group.mean(0), penalty.free_bits).sum();
}

}  // namespace

double warmed_up_kl_weight(double weight, int64_t warmup_epochs, const TrainingClock& clock) {
  if (warmup_epochs <= 0 || clock.step <= 0) return weight;
  const double ramp =
      static_cast<double>(clock.step) / static_cast<double>(warmup_epochs * clock.steps_per_epoch);
  return weight * std::min(1.0, ramp);
}

ObjectiveResult elbo(LatentVariableModel& model, const torch::Tensor& x, int64_t k, KlMode kl_mode,
                     const KlPenalty& penalty) {
  TORCH_CHECK(k >= 1, "elbo: k must be >= 1, got ", k);
  TORCH_CHECK(penalty.weight >= 0 && penalty.free_bits >= 0 && penalty.free_bits_group >= 1,
              "elbo: the KL weight and free bits must be >= 0 and the group size >= 1");
  const auto q = model.proposal(x);
  TORCH_CHECK(q != nullptr, "elbo: model '", model.kind(), "' has no proposal q(z|x)");
  std::optional<torch::Tensor> kl_per_dim;
  if (penalty.free_bits > 0) {
    TORCH_CHECK(kl_mode == KlMode::kAnalytic, "elbo: free bits need the analytic KL (model.kl: analytic)");
    kl_per_dim = analytic_kl_per_dim(*q, *model.prior());
    TORCH_CHECK(kl_per_dim.has_value(), "elbo: free bits need a closed-form KL per dimension, which model '",
                model.kind(), "' has not (its q(z|x) or p(z) is not a diagonal Gaussian)");
  }
  std::optional<torch::Tensor> closed_kl;
  if (kl_per_dim) {
    closed_kl = kl_per_dim->sum(-1);
  } else if (kl_mode == KlMode::kAnalytic) {
    closed_kl = analytic_kl(*q, *model.prior());
  }
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
  if (penalty.is_plain()) {
    result.loss = -value.mean();
  } else {
    const auto penalised_kl = kl_per_dim ? free_bits_kl(*kl_per_dim, penalty) : kl.mean();
    result.loss = -(rec.mean() - penalty.weight * penalised_kl);
    result.surrogate = true;
  }
  result.kl_weight = penalty.weight;
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
  v.field("kl_weight", kl_weight, config::at_least(0.0));
  v.field("kl_warmup_epochs", kl_warmup_epochs, config::at_least(0));
  v.field("free_bits", free_bits, config::at_least(0.0));
  v.field("free_bits_group", free_bits_group, config::at_least(1));
}

void ObjectiveConfig::check_objective(const config::RuleContext& context, int64_t latent_dim) const {
  // The KL options shape the ELBO's KL term; the IWAE bound has no separate KL term to weight.
  const std::pair<const char*, bool> kl_options[] = {{"kl_weight", kl_weight != 1},
                                                     {"kl_warmup_epochs", kl_warmup_epochs != 0},
                                                     {"free_bits", free_bits != 0}};
  for (const auto& [key, set] : kl_options) {
    if (set && objective != "elbo") {
      context.fail(fmt::format("model.{}", key),
                   fmt::format("weights the ELBO's KL term and needs model.objective: elbo, got '{}' (the "
                               "IWAE bound has no separate KL term)",
                               objective));
    }
  }
  if (free_bits > 0 && kl != "analytic") {
    context.fail("model.free_bits",
                 "free bits clamp the KL per latent dimension, which lvm has in closed form only: set "
                 "model.kl: analytic");
  }
  if (latent_dim > 0 && latent_dim % free_bits_group != 0) {
    context.fail("model.free_bits_group",
                 fmt::format("{} does not divide model.latent_dim {}: the groups are "
                             "consecutive latent dimensions of equal size",
                             free_bits_group, latent_dim));
  }
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
    const KlPenalty penalty{config.kl_weight, config.free_bits, config.free_bits_group};
    const int64_t warmup = config.kl_warmup_epochs;
    if (penalty.is_plain() && warmup == 0) {
      return
          [k, mode](LatentVariableModel& model, const torch::Tensor& x) { return elbo(model, x, k, mode); };
    }
    return Objective::scheduled([k, mode, penalty, warmup](LatentVariableModel& model, const torch::Tensor& x,
                                                           const TrainingClock& clock) {
      KlPenalty now = penalty;
      now.weight = warmed_up_kl_weight(penalty.weight, warmup, clock);
      return elbo(model, x, k, mode, now);
    });
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
