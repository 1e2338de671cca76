// Objectives on the linear-Gaussian model, whose log p(x) and posterior are known exactly.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "lvm/distributions/kl.h"
#include "lvm/distributions/normal.h"
#include "lvm/models/gmm/gaussian_mixture.h"
#include "lvm/models/linear_gaussian/linear_gaussian.h"
#include "lvm/models/registry.h"
#include "lvm/models/vae/vae.h"
#include "lvm/objectives/objective.h"

namespace lvm {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

// A linear-Gaussian model whose proposal is a given diagonal Gaussian instead of the exact
// posterior, so that the ELBO has a known gap.
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

struct Fixture {
  torch::Tensor w = torch::tensor({{1.0, 0.5}, {-0.3, 0.8}, {0.2, -1.1}}, kDouble);
  torch::Tensor b = torch::tensor({0.1, -0.2, 0.3}, kDouble);
  double sigma = 0.7;
  torch::Tensor x = torch::tensor({{0.5, -0.4, 1.2}, {-1.0, 0.3, 0.0}}, kDouble);
};

// KL(N(m1, S1) || N(m2, S2)) for full covariances, in double precision.
torch::Tensor gaussian_kl(const torch::Tensor& m1, const torch::Tensor& s1, const torch::Tensor& m2,
                          const torch::Tensor& s2) {
  const auto s2_inv = torch::inverse(s2);
  const auto d = (m2 - m1).unsqueeze(-1);
  const double k = static_cast<double>(m1.size(-1));
  return 0.5 * (torch::diagonal(torch::matmul(s2_inv, s1), 0, -2, -1).sum(-1) +
                torch::matmul(d.transpose(-1, -2), torch::matmul(s2_inv, d)).squeeze(-1).squeeze(-1) - k +
                torch::logdet(s2) - torch::logdet(s1));
}

TEST(Elbo, EqualsLogMarginalMinusKlToPosterior) {
  // ELBO(q) = log p(x) − KL(q || p(z|x)) for any q; with the analytic KL to the prior and enough
  // samples of the reconstruction term it holds to Monte Carlo precision.
  torch::manual_seed(0);
  Fixture f;
  const Normal q(torch::tensor({{0.2, -0.1}, {0.4, 0.0}}, kDouble),
                 torch::tensor({{-1.0, -0.5}, {-0.7, -1.2}}, kDouble));
  LinearGaussianWithProposal model(f.w, f.b, f.sigma, q);
  const auto result = elbo(model, f.x, 200000, KlMode::kAnalytic);
  const auto log_px = *model.exact_log_marginal(f.x);
  const auto post = model.posterior(f.x);
  const auto kl_post =
      gaussian_kl(q.mean(), torch::diag_embed(torch::exp(q.log_var())), post.mean(), post.covariance());
  EXPECT_TRUE(torch::allclose(result.value, log_px - kl_post, 0, 0.01))
      << result.value << " vs " << log_px - kl_post;
  EXPECT_TRUE((result.value < log_px).all().item<bool>());
}

TEST(Elbo, RecMinusKlAndMonteCarloKlAgree) {
  torch::manual_seed(1);
  Fixture f;
  const Normal q(torch::tensor({{0.2, -0.1}, {0.4, 0.0}}, kDouble),
                 torch::tensor({{-1.0, -0.5}, {-0.7, -1.2}}, kDouble));
  LinearGaussianWithProposal model(f.w, f.b, f.sigma, q);
  const auto analytic = elbo(model, f.x, 100000, KlMode::kAnalytic);
  const auto monte_carlo = elbo(model, f.x, 100000, KlMode::kMonteCarlo);
  EXPECT_TRUE(torch::allclose(analytic.value, analytic.rec - analytic.kl, 0, 1e-12));
  EXPECT_TRUE(torch::allclose(analytic.kl, monte_carlo.kl, 0, 0.02));
  EXPECT_TRUE(torch::allclose(analytic.value, monte_carlo.value, 0, 0.03));
}

TEST(Elbo, ExactPosteriorGivesExactLogMarginal) {
  // With q = p(z|x) the bound is tight: log w = log p(x) for every z, so one sample suffices.
  torch::manual_seed(2);
  Fixture f;
  LinearGaussian model(f.w, f.b, f.sigma);
  const auto result = iwae(model, f.x, 1);
  EXPECT_TRUE(torch::allclose(result.value, *model.exact_log_marginal(f.x), 0, 1e-9));
}

TEST(Iwae, KEqualsOneIsTheMonteCarloElbo) {
  Fixture f;
  auto model =
      std::make_shared<Vae>(VaeOptions(3, 2).encoder_hidden({4}).decoder_hidden({4}).likelihood("gaussian"));
  model->to(torch::kDouble);
  torch::manual_seed(3);
  const auto bound = iwae(*model, f.x, 1);
  torch::manual_seed(3);
  const auto reference = elbo(*model, f.x, 1, KlMode::kMonteCarlo);
  EXPECT_TRUE(torch::allclose(bound.value, reference.value, 0, 1e-10));
}

TEST(Iwae, BoundRisesWithKTowardsLogMarginal) {
  torch::manual_seed(4);
  Fixture f;
  const Normal q(torch::zeros({2, 2}, kDouble),
                 torch::zeros({2, 2}, kDouble));  // the prior as proposal: loose
  LinearGaussianWithProposal model(f.w, f.b, f.sigma, q);
  const auto log_px = *model.exact_log_marginal(f.x);
  const double exact = log_px.mean().item<double>();
  double previous = -INFINITY;
  for (int64_t k : {1, 10, 100, 1000}) {
    // Average many replicates to compare expectations, not single noisy draws; E[L_k] <= log p(x)
    // must hold up to the Monte Carlo error of that average.
    std::vector<torch::Tensor> draws;
    for (int r = 0; r < 400; ++r) draws.push_back(iwae(model, f.x, k).value.mean());
    const auto replicates = torch::stack(draws);
    const double mean = replicates.mean().item<double>();
    const double std_error = replicates.std().item<double>() / std::sqrt(400.0);
    EXPECT_GT(mean, previous) << "k=" << k;
    EXPECT_LT(mean, exact + 4 * std_error) << "k=" << k << ", standard error " << std_error;
    previous = mean;
  }
  EXPECT_NEAR(previous, log_px.mean().item<double>(), 0.05);
}

TEST(Iwae, DregAndStandardGradientsHaveTheSameExpectation) {
  torch::manual_seed(5);
  Fixture f;
  auto model =
      std::make_shared<Vae>(VaeOptions(3, 2).encoder_hidden({5}).decoder_hidden({5}).likelihood("gaussian"));
  model->to(torch::kDouble);
  const auto mean_gradient = [&](IwaeGradient kind) {
    std::vector<torch::Tensor> sums;
    for (const auto& p : model->parameters()) sums.push_back(torch::zeros_like(p));
    const int replicates = 3000;
    for (int r = 0; r < replicates; ++r) {
      model->zero_grad();
      iwae(*model, f.x, 5, kind).backward();
      const auto params = model->parameters();
      for (size_t i = 0; i < params.size(); ++i) sums[i] += params[i].grad();
    }
    auto flat = torch::cat([&] {
      std::vector<torch::Tensor> v;
      for (auto& s : sums) v.push_back(s.flatten() / replicates);
      return v;
    }());
    return flat;
  };
  const auto standard = mean_gradient(IwaeGradient::kStandard);
  const auto dreg = mean_gradient(IwaeGradient::kDreg);
  // Same expectation: the difference is Monte Carlo noise, small against the gradient itself.
  const double relative = ((standard - dreg).norm() / standard.norm()).item<double>();
  EXPECT_LT(relative, 0.05) << "standard " << standard.norm().item<double>() << ", dreg "
                            << dreg.norm().item<double>();
}

TEST(Iwae, DregGivesDecoderTheStandardGradientExactly) {
  // For the generative parameters both estimators compute Σ w̃ ∇θ log w on the same samples.
  Fixture f;
  auto model =
      std::make_shared<Vae>(VaeOptions(3, 2).encoder_hidden({5}).decoder_hidden({5}).likelihood("gaussian"));
  model->to(torch::kDouble);
  const auto decoder_grads = [&](IwaeGradient kind) {
    torch::manual_seed(6);
    model->zero_grad();
    iwae(*model, f.x, 7, kind).backward();
    std::vector<torch::Tensor> v;
    for (const auto& p : model->generative_parameters()) v.push_back(p.grad().flatten().clone());
    return torch::cat(v);
  };
  EXPECT_TRUE(torch::allclose(decoder_grads(IwaeGradient::kStandard), decoder_grads(IwaeGradient::kDreg),
                              1e-9, 1e-12));
}

TEST(Exact, ValueIsTheExactLogMarginalAndGradientItsMean) {
  auto model = std::make_shared<GaussianMixture>(GaussianMixtureOptions(2, 3));
  torch::manual_seed(8);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.copy_(torch::randn_like(p));
  }
  const auto x = torch::randn({6, 2}, kDouble);
  // The mixture's registered objective is its exact log-likelihood.
  const config::ModelConfig cfg("gmm");
  const ObjectiveResult result = model_spec("gmm").objective(cfg.options())(*model, x);
  EXPECT_TRUE(torch::allclose(result.value, *model->exact_log_marginal(x), 0, 0));
  EXPECT_FALSE(result.value.requires_grad());
  result.backward();
  const auto grad = model->means().grad().clone();
  model->zero_grad();
  (-model->exact_log_marginal(x)->mean()).backward();
  EXPECT_TRUE(torch::allclose(grad, model->means().grad(), 0, 1e-15));
}

TEST(Exact, ModelsWithoutAnExactMarginalAreRefused) {
  Vae model(VaeOptions(3, 2).encoder_hidden({4}).decoder_hidden({4}));
  try {
    exact_log_likelihood(model, torch::zeros({2, 3}));
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("model 'vae' has no exact log p(x)"), std::string::npos) << e.what();
  }
}

TEST(MakeObjective, FollowsTheConfig) {
  ObjectiveConfig cfg;
  cfg.objective = "unknown";
  EXPECT_THROW(make_objective(cfg), std::invalid_argument);
  // elbo with k samples and iwae give their bounds: with a proposal equal to the exact posterior
  // (the linear-Gaussian model), both equal log p(x) for every draw.
  torch::manual_seed(3);
  LinearGaussian model(torch::randn({3, 2}, kDouble), torch::zeros({3}, kDouble), 0.5);
  const auto x = torch::randn({4, 3}, kDouble);
  const auto log_px = *model.exact_log_marginal(x);
  for (const char* objective : {"elbo", "iwae"}) {
    cfg.objective = objective;
    cfg.k = 3;
    cfg.kl = "mc";
    EXPECT_TRUE(torch::allclose(make_objective(cfg)(model, x).value, log_px, 1e-9, 1e-9)) << objective;
  }
}

}  // namespace
}  // namespace lvm
