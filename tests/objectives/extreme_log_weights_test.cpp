// Log-sum-exp paths with log-weights near -1e4, where exp() underflows in any precision: the
// IWAE bound (standard and DReG) and the mixture's exact log p(x) stay finite, match a
// double-precision closed form, and give finite gradients. (The streaming log-sum-exp of
// `lvm eval` is tested at +-1e4 in tests/estimators/streaming_log_sum_exp_test.cpp.)

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "lvm/models/gmm/gaussian_mixture.h"
#include "lvm/models/linear_gaussian/linear_gaussian.h"
#include "lvm/objectives/objective.h"

namespace lvm {
namespace {

// A linear-Gaussian model (float32) and a point so far from its mean that log p(x) ≈ -1e4.
struct FarPoint {
  torch::Tensor weight = torch::tensor({{0.3, 0.0}, {0.0, 0.2}, {0.1, 0.1}, {0.0, 0.0}});
  LinearGaussian model{weight, torch::zeros({4}), 1.0};
  LinearGaussian model64{weight.to(torch::kDouble), torch::zeros({4}, torch::kDouble), 1.0};
  torch::Tensor x = torch::full({1, 4}, 70.0);
};

TEST(ExtremeLogWeights, IwaeBoundIsFiniteAndExactAtMinus1e4) {
  FarPoint f;
  // With the exact posterior as proposal every weight equals p(x): L_k = log p(x) for any k.
  const double exact = f.model64.exact_log_marginal(f.x.to(torch::kDouble))->item<double>();
  ASSERT_LT(exact, -9000.0);
  for (auto gradient : {IwaeGradient::kStandard, IwaeGradient::kDreg}) {
    for (auto& p : f.model.parameters()) p.mutable_grad() = torch::Tensor();
    torch::manual_seed(3);
    const auto result = iwae(f.model, f.x, 16, gradient);
    const double value = result.value.item<double>();
    // float32 carries ~7 digits: 1e-6 relative of 1e4 is 0.01 nats.
    EXPECT_NEAR(value, exact, 1e-6 * std::abs(exact) * 10) << static_cast<int>(gradient);
    result.backward();
    for (const auto& p : f.model.parameters()) {
      ASSERT_TRUE(p.grad().defined());
      EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>()) << static_cast<int>(gradient);
    }
  }
}

TEST(ExtremeLogWeights, MixtureLogMarginalFarFromEveryComponent) {
  GaussianMixture gmm(GaussianMixtureOptions(2, 3).dtype(torch::kFloat32));
  gmm.set_parameters(torch::tensor({0.2, 0.3, 0.5}), torch::tensor({{0.0, 0.0}, {1.0, 0.0}, {0.0, 1.0}}),
                     torch::eye(2).expand({3, 2, 2}).contiguous());
  const auto x = torch::tensor({{141.0, 0.0}, {-141.0, 3.0}});
  const auto log_px = *gmm.exact_log_marginal(x);
  ASSERT_TRUE(torch::isfinite(log_px).all().item<bool>());
  // Direct double computation: log Σ_k π_k N(x; μ_k, I).
  const auto xd = x.to(torch::kDouble).unsqueeze(1);
  const auto mu = torch::tensor({{0.0, 0.0}, {1.0, 0.0}, {0.0, 1.0}}, torch::kDouble);
  const auto log_pi = torch::log(torch::tensor({0.2, 0.3, 0.5}, torch::kDouble));
  const auto joint = log_pi - 0.5 * (xd - mu).pow(2).sum(-1) - std::log(2 * M_PI);
  const auto expected = torch::logsumexp(joint, 1);
  EXPECT_LT(expected[0].item<double>(), -9000.0);
  EXPECT_TRUE(torch::allclose(log_px.to(torch::kDouble), expected, 1e-6, 0.0));
  log_px.sum().backward();
  for (const auto& p : gmm.parameters())
    if (p.grad().defined()) {
      EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
    }
}

}  // namespace
}  // namespace lvm
