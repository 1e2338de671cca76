// Per-example refinement of q(z) on the linear-Gaussian model: the best diagonal Gaussian for a
// Gaussian posterior N(μ, Σ) is known (mean μ, variances 1 / (Σ⁻¹)_ii), and so is its ELBO.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "lvm/distributions/normal.h"
#include "lvm/estimators/refine.h"
#include "lvm/models/linear_gaussian/linear_gaussian.h"
#include "lvm/models/vae/vae.h"

namespace lvm::estimators {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

// A linear-Gaussian model whose proposal is a fixed diagonal Gaussian (a poor "encoder").
class LinearGaussianWithProposal : public LinearGaussian {
 public:
  LinearGaussianWithProposal(torch::Tensor w, torch::Tensor b, double sigma, Normal q)
      : LinearGaussian(std::move(w), std::move(b), sigma), q_(std::move(q)) {}
  std::shared_ptr<Distribution> proposal(const torch::Tensor&) override {
    return std::make_shared<Normal>(q_);
  }

 private:
  Normal q_;
};

// ELBO of a diagonal Gaussian q in closed form: log p(x) − KL(q || p(z|x)).
torch::Tensor closed_form_elbo(LinearGaussian& model, const torch::Tensor& x, const Normal& q) {
  const auto post = model.posterior(x);
  const auto precision = torch::inverse(post.covariance());
  const auto var = torch::exp(q.log_var());
  const auto d = (q.mean() - post.mean()).unsqueeze(-1);
  const auto kl =
      0.5 * ((torch::diagonal(precision, 0, -2, -1) * var).sum(-1) +
             torch::matmul(d.transpose(-1, -2), torch::matmul(precision, d)).squeeze(-1).squeeze(-1) -
             static_cast<double>(q.mean().size(-1)) - torch::logdet(post.covariance()) - q.log_var().sum(-1));
  return *model.exact_log_marginal(x) - kl;
}

TEST(Refine, ReachesTheBestDiagonalGaussian) {
  torch::manual_seed(0);
  const auto w = torch::tensor({{1.0, 0.5}, {-0.3, 0.8}, {0.2, -1.1}, {0.6, 0.1}}, kDouble);
  const auto b = torch::tensor({0.1, -0.2, 0.3, 0.0}, kDouble);
  const auto x =
      torch::tensor({{0.5, -0.4, 1.2, 0.3}, {-1.0, 0.3, 0.0, -0.5}, {1.5, 1.0, -1.0, 0.8}}, kDouble);
  // The "encoder" says N(0.5, I) for every x: far from each posterior.
  const Normal encoder(torch::full({3, 2}, 0.5, kDouble), torch::zeros({3, 2}, kDouble));
  LinearGaussianWithProposal model(w, b, 0.7, encoder);
  const auto parameters_before = torch::cat({model.weight().flatten(), model.bias().flatten()}).clone();

  const auto refined = refine_proposal(model, x, RefineOptions(500).lr(0.05).samples(20));

  const auto post = model.posterior(x);
  const auto best_var = 1.0 / torch::diagonal(torch::inverse(post.covariance()), 0, -2, -1);
  const Normal best(post.mean(), torch::log(best_var).expand_as(post.mean()));
  // Adam's last iterates still carry some gradient noise (20 samples per step): the optimum within
  // a tenth of a posterior standard deviation (≈ 0.45) and 5% in variance, and the ELBO within
  // 0.01 nats of the best (the loss is quadratic: 0.05² · precision 5 / 2 ≈ 0.006 at those bounds).
  EXPECT_TRUE(torch::allclose(refined.mean(), best.mean(), 0, 0.05)) << refined.mean() << best.mean();
  EXPECT_TRUE(torch::allclose(torch::exp(refined.log_var()), best_var.expand_as(post.mean()), 0.05, 0))
      << torch::exp(refined.log_var()) << best_var;
  const auto best_elbo = closed_form_elbo(model, x, best);
  const auto refined_elbo = closed_form_elbo(model, x, refined);
  const auto encoder_elbo = closed_form_elbo(model, x, encoder);
  EXPECT_TRUE((refined_elbo <= best_elbo + 1e-12).all().item<bool>());
  EXPECT_TRUE((refined_elbo > best_elbo - 0.01).all().item<bool>()) << refined_elbo << best_elbo;
  EXPECT_TRUE((encoder_elbo < best_elbo - 0.5).all().item<bool>()) << "the test needs a real gap";

  // The model itself is untouched and collects no gradient.
  EXPECT_TRUE(
      torch::equal(torch::cat({model.weight().flatten(), model.bias().flatten()}), parameters_before));
  for (const auto& p : model.parameters()) EXPECT_FALSE(p.grad().defined());
  EXPECT_FALSE(refined.mean().requires_grad());
}

TEST(Refine, ZeroStepsReturnsTheEncodersProposal) {
  torch::manual_seed(1);
  Vae vae(VaeOptions(6, 3).encoder_hidden({5}).decoder_hidden({5}));
  const auto x = torch::bernoulli(torch::full({4, 6}, 0.5));
  const auto q = vae.encode(x);
  const auto refined = refine_proposal(vae, x, RefineOptions(0));
  EXPECT_TRUE(torch::allclose(refined.mean(), q.mean()));
  EXPECT_TRUE(torch::allclose(refined.log_var(), q.log_var()));
}

TEST(Refine, NeedsADiagonalGaussianProposal) {
  const auto w = torch::tensor({{1.0}, {0.5}}, kDouble);
  LinearGaussian model(w, torch::zeros({2}, kDouble), 1.0);  // its proposal is a MultivariateNormal
  try {
    refine_proposal(model, torch::zeros({1, 2}, kDouble), RefineOptions(3));
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("needs a diagonal Gaussian proposal"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace lvm::estimators
