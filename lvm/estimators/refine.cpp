#include "lvm/estimators/refine.h"

#include <cmath>
#include <stdexcept>

#include <torch/torch.h>

#include "lvm/distributions/kl.h"

namespace lvm::estimators {

Normal refine_proposal(LatentVariableModel& model, const torch::Tensor& x, const RefineOptions& options) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == model.data_dim(), "refine_proposal: expected x of shape [B, ",
              model.data_dim(), "], got ", x.sizes());
  TORCH_CHECK(options.steps() >= 0, "refine_proposal: steps must be >= 0, got ", options.steps());
  TORCH_CHECK(options.lr() > 0, "refine_proposal: lr must be > 0, got ", options.lr());
  TORCH_CHECK(options.samples() >= 1, "refine_proposal: samples must be >= 1, got ", options.samples());
  torch::Tensor mean, log_var;
  {
    torch::NoGradGuard no_grad;
    const auto q = model.proposal(x);
    const Normal* normal = q == nullptr ? nullptr : q->diagonal_gaussian();
    if (normal == nullptr) {
      throw std::invalid_argument("refine: needs a diagonal Gaussian proposal q(z|x); model '" +
                                  model.kind() + "' has " +
                                  (q == nullptr ? "none" : "another kind of proposal"));
    }
    mean = normal->mean().detach().clone();
    log_var = normal->log_var().expand_as(mean).detach().clone();
  }
  if (options.steps() == 0) return Normal(mean, log_var);

  torch::AutoGradMode grad_mode(true);
  mean.requires_grad_(true);
  log_var.requires_grad_(true);
  torch::optim::Adam optimizer({mean, log_var}, torch::optim::AdamOptions(options.lr()));
  const auto prior = model.prior();
  for (int64_t step = 0; step < options.steps(); ++step) {
    const double progress = static_cast<double>(step) / static_cast<double>(options.steps());
    const double lr = 0.5 * options.lr() * (1.0 + std::cos(M_PI * progress));
    for (auto& group : optimizer.param_groups())
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);

    const Normal q(mean, log_var);
    const auto z = q.rsample({options.samples()});  // [S, B, Z]
    const auto rec = model.log_likelihood(x, z).mean(0);
    torch::Tensor kl;
    if (auto closed = analytic_kl(q, *prior)) {
      kl = *closed;
    } else {
      kl = (q.log_prob(z) - prior->log_prob(z)).mean(0);
    }
    // Summed, not averaged: each example's parameters see their own ELBO's gradient.
    const auto loss = -(rec - kl).sum();
    // Gradients for q's parameters only: the model's parameters neither change nor collect .grad.
    const auto grads = torch::autograd::grad({loss}, {mean, log_var});
    mean.mutable_grad() = grads[0];
    log_var.mutable_grad() = grads[1];
    optimizer.step();
  }
  return Normal(mean.detach(), log_var.detach());
}

}  // namespace lvm::estimators
