// The joint over latent groups and the finite mixture, against closed forms in double precision.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "lvm/distributions/joint.h"
#include "lvm/distributions/mixture.h"
#include "lvm/distributions/normal.h"

namespace lvm {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

double normal_density(double x, double mean, double var) {
  return std::exp(-0.5 * (x - mean) * (x - mean) / var) / std::sqrt(2 * M_PI * var);
}

TEST(JointDistribution, IndependentGroupsAreOneNormalWithConcatenatedParameters) {
  const auto m1 = torch::tensor({{0.5, -1.0}}, kDouble), v1 = torch::tensor({{0.1, -0.3}}, kDouble);
  const auto m2 = torch::tensor({{2.0}}, kDouble), v2 = torch::tensor({{0.7}}, kDouble);
  const JointDistribution joint({JointDistribution::Factor::of(std::make_shared<Normal>(m1, v1), 2),
                                 JointDistribution::Factor::of(std::make_shared<Normal>(m2, v2), 1)});
  const Normal whole(torch::cat({m1, m2}, -1), torch::cat({v1, v2}, -1));
  const auto z = torch::randn({4, 1, 3}, kDouble);
  EXPECT_TRUE(torch::allclose(joint.log_prob(z), whole.log_prob(z), 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(joint.mean(), whole.mean()));
  const auto [draw, log_q] = joint.rsample_with_log_prob({5});
  EXPECT_EQ(draw.sizes(), (std::vector<int64_t>{5, 1, 3}));
  EXPECT_TRUE(torch::allclose(log_q, whole.log_prob(draw), 1e-12, 1e-12));
  EXPECT_EQ(joint.diagonal_gaussian(), nullptr);
}

// z1 ~ N(0, 1), z2 | z1 ~ N(a z1, s²): jointly Gaussian with covariance [[1, a], [a, a² + s²]].
TEST(JointDistribution, ConditionalChainIsTheBivariateGaussian) {
  const double a = 0.8, s2 = 0.25;
  auto conditional = [a, s2](const std::vector<torch::Tensor>& earlier) -> std::shared_ptr<Distribution> {
    return std::make_shared<Normal>(a * earlier[0], torch::full_like(earlier[0], std::log(s2)));
  };
  const JointDistribution chain(
      {JointDistribution::Factor::of(std::make_shared<Normal>(Normal::standard(1, kDouble)), 1),
       JointDistribution::Factor::given(conditional, 1)});
  const double c11 = 1, c12 = a, c22 = a * a + s2, det = c11 * c22 - c12 * c12;
  const auto z = torch::tensor({{0.3, -0.2}, {-1.5, 1.1}, {2.0, 0.4}}, kDouble);
  const auto log_p = chain.log_prob(z);
  for (int64_t i = 0; i < 3; ++i) {
    const double x = z[i][0].item<double>(), y = z[i][1].item<double>();
    const double quad = (c22 * x * x - 2 * c12 * x * y + c11 * y * y) / det;
    EXPECT_NEAR(log_p[i].item<double>(), -std::log(2 * M_PI) - 0.5 * std::log(det) - 0.5 * quad, 1e-12);
  }
  torch::manual_seed(3);
  const int64_t n = 200000;
  const auto draws = chain.sample({n});  // [n, 2]
  const auto cov = draws.t().matmul(draws) / static_cast<double>(n);
  // Standard error of a second moment of unit-scale Gaussians is about sqrt(2 / n) ≈ 0.003.
  EXPECT_NEAR(cov[0][0].item<double>(), c11, 0.015);
  EXPECT_NEAR(cov[0][1].item<double>(), c12, 0.015);
  EXPECT_NEAR(cov[1][1].item<double>(), c22, 0.015);
  EXPECT_THROW(
      {
        try {
          chain.detached();
        } catch (const std::invalid_argument& e) {
          EXPECT_NE(std::string(e.what()).find("DReG"), std::string::npos) << e.what();
          throw;
        }
      },
      std::invalid_argument);
}

TEST(MixtureDistribution, LogProbIsTheWeightedSumOfComponentDensities) {
  const std::vector<double> w = {0.2, 0.5, 0.3}, mu = {-2.0, 0.0, 1.5}, var = {0.5, 1.0, 2.0};
  const auto logits = torch::log(torch::tensor(w, kDouble)) + 0.7;  // unnormalised on purpose
  const auto components = std::make_shared<Normal>(torch::tensor(mu, kDouble).reshape({3, 1}),
                                                   torch::log(torch::tensor(var, kDouble)).reshape({3, 1}));
  const MixtureDistribution mixture(logits, components);
  const auto x = torch::tensor({-2.5, 0.1, 3.0}, kDouble).reshape({3, 1});
  const auto log_p = mixture.log_prob(x);
  ASSERT_EQ(log_p.sizes(), (std::vector<int64_t>{3}));
  for (int64_t i = 0; i < 3; ++i) {
    double p = 0;
    for (int k = 0; k < 3; ++k) p += w[k] * normal_density(x[i][0].item<double>(), mu[k], var[k]);
    EXPECT_NEAR(log_p[i].item<double>(), std::log(p), 1e-12);
  }
  const double mean = 0.2 * -2.0 + 0.3 * 1.5;
  EXPECT_NEAR(mixture.mean().item<double>(), mean, 1e-12);
  torch::manual_seed(5);
  const int64_t n = 200000;
  const auto draws = mixture.sample({n});
  ASSERT_EQ(draws.sizes(), (std::vector<int64_t>{n, 1}));
  double second = 0;
  for (int k = 0; k < 3; ++k) second += w[k] * (var[k] + mu[k] * mu[k]);
  const double sd = std::sqrt(second - mean * mean);
  EXPECT_NEAR(draws.mean().item<double>(), mean, 5 * sd / std::sqrt(static_cast<double>(n)));
  EXPECT_THROW(mixture.rsample({2}), std::invalid_argument);
  EXPECT_EQ(mixture.diagonal_gaussian(), nullptr);
}

TEST(MixtureDistribution, OneComponentIsThatComponent) {
  const auto component =
      std::make_shared<Normal>(torch::tensor({{0.5, -1.0}}, kDouble), torch::tensor({{0.2, -0.4}}, kDouble));
  const MixtureDistribution mixture(torch::zeros({1}, kDouble), component);
  const auto x = torch::randn({6, 2}, kDouble);
  EXPECT_TRUE(torch::allclose(mixture.log_prob(x), component->log_prob(x), 1e-12, 1e-12));
  EXPECT_EQ(Normal::standard(2).diagonal_gaussian() != nullptr, true);
}

}  // namespace
}  // namespace lvm
