// Distributions against closed forms computed independently in double precision.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "lvm/distributions/bernoulli.h"
#include "lvm/distributions/categorical.h"
#include "lvm/distributions/kl.h"
#include "lvm/distributions/multivariate_normal.h"
#include "lvm/distributions/normal.h"

namespace lvm {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

TEST(Normal, LogProbMatchesScalarFormula) {
  const auto mean = torch::tensor({0.5, -1.0, 2.0}, kDouble);
  const auto log_var = torch::tensor({0.0, std::log(4.0), std::log(0.25)}, kDouble);
  const auto x = torch::tensor({1.0, 0.0, 2.5}, kDouble);
  double expected = 0;
  for (int i = 0; i < 3; ++i) {
    const double m = mean[i].item<double>(), v = std::exp(log_var[i].item<double>()),
                 xi = x[i].item<double>();
    expected += -0.5 * std::log(2 * M_PI * v) - (xi - m) * (xi - m) / (2 * v);
  }
  EXPECT_NEAR(Normal(mean, log_var).log_prob(x).item<double>(), expected, 1e-12);
}

TEST(Normal, SampleShapesBroadcastAndMoments) {
  torch::manual_seed(0);
  const Normal q(torch::tensor({{1.0, -2.0}}, kDouble).expand({3, 2}),
                 torch::full({3, 2}, std::log(9.0), kDouble));
  const auto z = q.sample({20000});
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{20000, 3, 2}));
  EXPECT_NEAR(z.select(2, 0).mean().item<double>(), 1.0, 0.05);
  EXPECT_NEAR(z.select(2, 1).std().item<double>(), 3.0, 0.05);
  EXPECT_EQ(q.log_prob(z).sizes(), (std::vector<int64_t>{20000, 3}));
  EXPECT_FALSE(z.requires_grad());
}

TEST(Normal, RsampleCarriesGradientToParameters) {
  const auto mean = torch::zeros({4}, kDouble).requires_grad_();
  const auto log_var = torch::zeros({4}, kDouble).requires_grad_();
  Normal(mean, log_var).rsample({10}).sum().backward();
  EXPECT_NEAR(mean.grad().sum().item<double>(), 40.0, 1e-12);  // d/dμ Σ (μ + σε) = number of draws
  EXPECT_TRUE(log_var.grad().defined());
}

TEST(Normal, EntropyMatchesClosedForm) {
  const auto log_var = torch::tensor({0.3, -1.2}, kDouble);
  const double expected = 0.5 * (2 * (1 + std::log(2 * M_PI)) + 0.3 - 1.2);
  EXPECT_NEAR(Normal(torch::zeros({2}, kDouble), log_var).entropy().item<double>(), expected, 1e-12);
}

TEST(Bernoulli, LogProbIsStableForLargeLogits) {
  const auto logits = torch::tensor({-200.0, 0.0, 200.0, 3.0}, kDouble);
  const auto x = torch::tensor({0.0, 1.0, 1.0, 0.0}, kDouble);
  // log(1−σ(−200)) ≈ −e^−200 ≈ 0; log σ(0) = −log 2; log σ(200) ≈ 0; log(1−σ(3)) = −log(1+e³).
  const double expected = -std::log(2.0) - std::log1p(std::exp(3.0));
  EXPECT_NEAR(Bernoulli(logits).log_prob(x).item<double>(), expected, 1e-12);
  // Float32 too: no -inf from log(sigmoid) underflow.
  const auto lp = Bernoulli(torch::tensor({-200.0f})).log_prob(torch::tensor({1.0f}));
  EXPECT_NEAR(lp.item<float>(), -200.0f, 1e-3);
}

TEST(Bernoulli, SampleMeanMatchesSigmoid) {
  torch::manual_seed(1);
  const Bernoulli p(torch::tensor({-1.0, 2.0}, kDouble));
  const auto x = p.sample({40000});
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{40000, 2}));
  EXPECT_NEAR(x.mean(0)[0].item<double>(), 1 / (1 + std::exp(1.0)), 0.01);
  EXPECT_NEAR(x.mean(0)[1].item<double>(), 1 / (1 + std::exp(-2.0)), 0.01);
}

TEST(Categorical, LogProbNormalisesAndSamplesFrequencies) {
  torch::manual_seed(2);
  const auto logits = torch::tensor({0.0, std::log(3.0), 0.0}, kDouble);  // probabilities 1/5, 3/5, 1/5
  const Categorical c(logits);
  EXPECT_NEAR(c.log_prob(torch::tensor({1}, torch::kLong)).item<double>(), std::log(0.6), 1e-12);
  const auto draws = c.sample({50000});
  ASSERT_EQ(draws.sizes(), (std::vector<int64_t>{50000}));
  EXPECT_NEAR((draws == 1).to(torch::kDouble).mean().item<double>(), 0.6, 0.01);
}

TEST(Categorical, BatchedLogProbBroadcastsOverSamples) {
  const auto logits = torch::log(torch::tensor({{0.5, 0.5}, {0.9, 0.1}}, kDouble));  // batch of 2
  const Categorical c(logits);
  const auto value = torch::tensor({{0, 1}, {1, 0}}, torch::kLong);  // [S=2, B=2]
  const auto lp = c.log_prob(value);
  EXPECT_NEAR(lp[0][0].item<double>(), std::log(0.5), 1e-12);
  EXPECT_NEAR(lp[0][1].item<double>(), std::log(0.1), 1e-12);
  EXPECT_NEAR(lp[1][1].item<double>(), std::log(0.9), 1e-12);
}

TEST(MultivariateNormal, LogProbMatchesDeterminantFormula) {
  const auto mean = torch::tensor({1.0, -1.0}, kDouble);
  const auto cov = torch::tensor({{2.0, 0.6}, {0.6, 1.0}}, kDouble);
  const auto x = torch::tensor({0.3, 0.2}, kDouble);
  // Closed form with the explicit 2x2 inverse.
  const double det = 2.0 * 1.0 - 0.36;
  const double d0 = 0.3 - 1.0, d1 = 0.2 + 1.0;
  const double quad = (1.0 * d0 * d0 - 2 * 0.6 * d0 * d1 + 2.0 * d1 * d1) / det;
  const double expected = -0.5 * (quad + std::log(det) + 2 * std::log(2 * M_PI));
  EXPECT_NEAR(MultivariateNormal::from_covariance(mean, cov).log_prob(x).item<double>(), expected, 1e-12);
}

TEST(MultivariateNormal, DiagonalCaseAgreesWithNormal) {
  const auto mean = torch::randn({5, 3}, kDouble);
  const auto log_var = torch::randn({5, 3}, kDouble);
  const auto x = torch::randn({7, 5, 3}, kDouble);
  const MultivariateNormal mvn(mean, torch::diag_embed(torch::exp(0.5 * log_var)));
  EXPECT_TRUE(torch::allclose(mvn.log_prob(x), Normal(mean, log_var).log_prob(x), 1e-10, 1e-10));
}

TEST(MultivariateNormal, SharedFactorsAcrossLeadingDimensionsMatchOneByOne) {
  // Values with leading dimensions beyond the factors' batch (points scored against every
  // component) take the batched-columns path; each entry must equal its own one-point density.
  torch::manual_seed(7);
  const int64_t k = 3, d = 3;
  const auto mean = torch::randn({k, d}, kDouble);
  const auto a = torch::randn({k, d, d}, kDouble);
  const auto cov = torch::matmul(a, a.transpose(1, 2)) + torch::eye(d, kDouble);
  const auto mvn = MultivariateNormal::from_covariance(mean, cov);
  const auto x = torch::randn({4, 2, 1, d}, kDouble);  // [S1, S2, 1, D] against batch [K]
  const auto lp = mvn.log_prob(x);
  ASSERT_EQ(lp.sizes(), (std::vector<int64_t>{4, 2, k}));
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t c = 0; c < k; ++c) {
        const auto one = MultivariateNormal::from_covariance(mean[c], cov[c]).log_prob(x[i][j][0]);
        EXPECT_NEAR(lp[i][j][c].item<double>(), one.item<double>(), 1e-12);
      }
  // A batch of one factor against a batch of means, and a single value against a batch of factors.
  const MultivariateNormal shared(torch::randn({5, d}, kDouble), torch::linalg_cholesky(cov[0]));
  const auto y = torch::randn({5, d}, kDouble);
  for (int64_t b = 0; b < 5; ++b) {
    EXPECT_NEAR(shared.log_prob(y)[b].item<double>(),
                MultivariateNormal(shared.mean()[b], shared.scale_tril()).log_prob(y[b]).item<double>(),
                1e-12);
  }
  EXPECT_EQ(mvn.log_prob(torch::zeros({d}, kDouble)).sizes(), (std::vector<int64_t>{k}));
  EXPECT_THROW(mvn.log_prob(torch::zeros({2, d + 1}, kDouble)), c10::Error);
}

TEST(MultivariateNormal, SampleCovariance) {
  torch::manual_seed(3);
  const auto cov = torch::tensor({{1.0, 0.8}, {0.8, 2.0}}, kDouble);
  const auto z = MultivariateNormal::from_covariance(torch::zeros({2}, kDouble), cov).sample({50000});
  const auto empirical = torch::matmul(z.t(), z) / 50000.0;
  EXPECT_TRUE(torch::allclose(empirical, cov, 0.0, 0.05)) << empirical;
}

TEST(Kl, NormalClosedFormAgreesWithMonteCarlo) {
  torch::manual_seed(4);
  const Normal q(torch::tensor({0.5, -0.3, 1.0}, kDouble), torch::tensor({-0.5, 0.2, 0.0}, kDouble));
  const Normal p(torch::tensor({0.0, 0.1, -0.4}, kDouble), torch::tensor({0.3, -0.1, 0.5}, kDouble));
  const auto z = q.sample({400000});
  const auto monte_carlo = (q.log_prob(z) - p.log_prob(z)).mean().item<double>();
  const auto closed = kl_divergence(q, p).item<double>();
  EXPECT_NEAR(closed, monte_carlo, 0.01);
  EXPECT_NEAR(kl_divergence(q, q).item<double>(), 0.0, 1e-12);
}

TEST(Kl, AnalyticKlDispatchesOnTypes) {
  const Normal q(torch::zeros({2}), torch::zeros({2}));
  EXPECT_TRUE(analytic_kl(q, q).has_value());
  const Categorical c(torch::zeros({2}));
  EXPECT_FALSE(analytic_kl(c, q).has_value());
}

}  // namespace
}  // namespace lvm
