#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "lvm/nn/fused_tanh.h"
#include "lvm/nn/mlp.h"

namespace lvm::nn {
namespace {

// Every float near the series/quotient switch at 0.5, tiny and huge magnitudes, zeros, a grid
// over [-20, 20]: within 4 ulp of tanh computed in double.
TEST(BiasTanh, IsWithinFourUlpOfTanh) {
  std::vector<float> values = {0.0f,       -0.0f, 1e-30f, -1e-30f, 1e-7f,  3e-4f, 0.4999999f, 0.5f,
                               0.5000001f, -0.5f, 9.0f,   20.0f,   -20.0f, 88.0f, -100.0f,    1e30f};
  for (int i = -200000; i <= 200000; ++i) values.push_back(static_cast<float>(i) * 1e-4f);
  for (float v = 0.49f; v < 0.51f; v = std::nextafter(v, 1.0f)) values.push_back(v);
  auto rows = torch::tensor(values).view({1, -1}).clone();
  const auto bias = torch::zeros({rows.size(1)});
  bias_tanh_(rows, bias);
  const auto exact = torch::tanh(torch::tensor(values).to(torch::kDouble));
  const auto error = (rows.view({-1}).to(torch::kDouble) - exact).abs();
  const auto ulp = exact.abs().clamp_min(std::numeric_limits<float>::min()) * std::ldexp(1.0, -23);
  const double worst = (error / ulp).max().item<double>();
  EXPECT_LE(worst, 4.0);
}

TEST(BiasTanh, AddsTheBiasPerColumnAndKeepsNaN) {
  auto rows = torch::tensor({{0.25f, -3.0f, NAN, 1.0f, 0.0f, 0.1f, -0.2f, 2.0f, 0.3f}});
  const auto bias = torch::tensor({0.25f, 1.0f, 0.0f, -1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.2f});
  const auto expected = torch::tanh(rows + bias);
  bias_tanh_(rows, bias);
  EXPECT_TRUE(std::isnan(rows[0][2].item<float>()));
  EXPECT_TRUE(torch::allclose(rows.index({0, torch::indexing::Slice(3)}),
                              expected.index({0, torch::indexing::Slice(3)}), 1e-6, 0));
  EXPECT_NEAR(rows[0][0].item<float>(), std::tanh(0.5f), 1e-7);
  EXPECT_NEAR(rows[0][1].item<float>(), std::tanh(-2.0f), 1e-7);
  auto wrong = torch::zeros({2, 3});
  EXPECT_THROW(bias_tanh_(wrong, torch::zeros({4})), c10::Error);
}

// Without autograd, an MLP's tanh hidden layers take the fused form: the same values as the
// modules' own forward, within float rounding, for inputs of any leading shape.
TEST(MlpHidden, FusedTanhLayersMatchTheModules) {
  torch::manual_seed(2);
  Mlp mlp(MlpOptions(50, {200, 200}, 784).activation("tanh"));
  const auto z = torch::randn({3, 7, 50}) * 2;
  const auto reference = mlp->hidden(z);  // grad mode on: the modules' path
  torch::NoGradGuard no_grad;
  const auto fused = mlp->hidden(z);
  ASSERT_EQ(fused.sizes(), reference.sizes());
  EXPECT_TRUE(torch::allclose(fused, reference.detach(), 1e-5, 1e-6))
      << (fused - reference.detach()).abs().max().item<double>();
  EXPECT_GT(reference.abs().max().item<double>(), 0.5);
}

}  // namespace
}  // namespace lvm::nn
