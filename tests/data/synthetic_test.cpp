// Seeded 2-D data sets: reproducible, and shaped as documented.

#include "lvm/data/synthetic.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace lvm::data {
namespace {

TEST(Synthetic, SameSeedSamePointsOtherSeedOtherPoints) {
  for (const char* name : {"ring", "circles", "pinwheel"}) {
    const auto a = make_synthetic(name, 500, 0.1, 3);
    EXPECT_EQ(a.sizes(), (std::vector<int64_t>{500, 2})) << name;
    EXPECT_EQ(a.scalar_type(), torch::kDouble);
    EXPECT_TRUE(torch::equal(a, make_synthetic(name, 500, 0.1, 3))) << name;
    EXPECT_FALSE(torch::equal(a, make_synthetic(name, 500, 0.1, 4))) << name;
    EXPECT_TRUE(torch::isfinite(a).all().item<bool>());
  }
  EXPECT_EQ(make_synthetic("ring", 0, 0.1, 0).sizes(), (std::vector<int64_t>{0, 2}));
}

TEST(Synthetic, RingPointsSitOnEightModesOfRadiusTwo) {
  const double noise = 0.05;
  const auto x = make_synthetic("ring", 4000, noise, 0);
  // Nearest of the 8 centres, and the offset from it: isotropic with standard deviation `noise`.
  const auto angles = torch::arange(8, torch::kDouble) * (2 * M_PI / 8);
  const auto centres = torch::stack({2 * torch::cos(angles), 2 * torch::sin(angles)}, 1);
  const auto d2 = (x.unsqueeze(1) - centres.unsqueeze(0)).pow(2).sum(-1);
  const auto nearest = d2.argmin(1);
  const auto offset = x - centres.index_select(0, nearest);
  const double n = 4000;
  EXPECT_NEAR(offset.std(0)[0].item<double>(), noise, 4 * noise / std::sqrt(2 * n));
  EXPECT_NEAR(offset.std(0)[1].item<double>(), noise, 4 * noise / std::sqrt(2 * n));
  // Each mode holds about an eighth of the points: binomial standard error.
  const auto counts = torch::bincount(nearest, {}, 8).to(torch::kDouble);
  const double se = std::sqrt(n * (1.0 / 8) * (7.0 / 8));
  EXPECT_LT((counts - n / 8).abs().max().item<double>(), 5 * se);
}

TEST(Synthetic, CirclesWithoutNoiseHaveRadiiOneAndAHalf) {
  const auto x = make_synthetic("circles", 1000, 0.0, 1);
  const auto radius = x.norm(2, 1);
  const auto outer = radius > 0.75;
  EXPECT_TRUE(torch::allclose(radius.masked_select(outer), torch::ones({1}, torch::kDouble), 0, 1e-12));
  EXPECT_TRUE(torch::allclose(radius.masked_select(~outer), torch::full({1}, 0.5, torch::kDouble), 0, 1e-12));
  EXPECT_NEAR(outer.sum().item<double>(), 500, 5 * std::sqrt(1000 * 0.25));
}

TEST(Synthetic, PinwheelWithoutTangentialNoiseLiesOnFiveSpirals) {
  // With tangential noise 0 a point at radius r lies at angle arm·2π/5 + 0.25·exp(r).
  const auto x = make_synthetic("pinwheel", 1000, 0.0, 2);
  const auto r = x.norm(2, 1);
  const auto phase = torch::atan2(x.select(1, 1), x.select(1, 0)) - 0.25 * torch::exp(r);
  const auto arms = phase / (2 * M_PI / 5);
  EXPECT_LT((arms - arms.round()).abs().max().item<double>(), 1e-9);
}

TEST(Synthetic, BadArgumentsAreClearErrors) {
  try {
    make_synthetic("moons", 10, 0.1, 0);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(),
                 "data.synthetic: unknown synthetic data set 'moons' (expected ring, circles or pinwheel)");
  }
  EXPECT_THROW(make_synthetic("ring", -1, 0.1, 0), std::invalid_argument);
  EXPECT_THROW(make_synthetic("ring", 10, -0.1, 0), std::invalid_argument);
}

}  // namespace
}  // namespace lvm::data
