// PCA against data with a known covariance, and its file round trip.

#include "lvm/data/pca.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "lvm/data/idx.h"
#include "tests/testing.h"

namespace lvm::data {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

TEST(Pca, FindsTheDirectionsOfLargestVariance) {
  torch::manual_seed(0);
  // Independent coordinates with variances 9, 4, 1, 0.25, rotated by a random orthogonal matrix.
  const auto z = torch::randn({20000, 4}, kDouble) * torch::tensor({3.0, 2.0, 1.0, 0.5}, kDouble);
  const auto rotation = std::get<0>(torch::linalg_qr(torch::randn({4, 4}, kDouble)));
  const auto x = torch::matmul(z, rotation.t()) + torch::tensor({1.0, -2.0, 3.0, 0.5}, kDouble);
  const Pca pca = fit_pca(x, 2);
  EXPECT_EQ(pca.components.sizes(), (std::vector<int64_t>{4, 2}));
  EXPECT_TRUE(
      torch::allclose(torch::matmul(pca.components.t(), pca.components), torch::eye(2, kDouble), 0, 1e-12));
  // The columns span the first two rotated axes (up to sign), to sampling accuracy.
  const auto overlap = torch::matmul(rotation.slice(1, 0, 2).t(), pca.components).abs();
  EXPECT_TRUE(torch::allclose(overlap, torch::eye(2, kDouble), 0, 0.02)) << overlap;
  EXPECT_NEAR(pca.explained_variance[0].item<double>(), 9.0, 9.0 * 5 * std::sqrt(2.0 / 20000));
  EXPECT_NEAR(pca.explained_variance[1].item<double>(), 4.0, 4.0 * 5 * std::sqrt(2.0 / 20000));
  // Projected data: centred, uncorrelated, with the explained variances.
  const auto y = pca.project(x);
  EXPECT_LT(y.mean(0).abs().max().item<double>(), 1e-10);
  const auto cov = torch::matmul(y.t(), y) / 20000.0;
  EXPECT_TRUE(torch::allclose(cov, torch::diag(pca.explained_variance), 0, 1e-9));
}

TEST(Pca, FullDimensionIsARotationAndSignsAreDeterministic) {
  torch::manual_seed(1);
  const auto x = torch::randn({100, 3}, kDouble);
  const Pca pca = fit_pca(x, 3);
  const auto back = torch::matmul(pca.project(x), pca.components.t()) + pca.mean;
  EXPECT_TRUE(torch::allclose(back, x, 0, 1e-12));
  const auto largest = pca.components.abs().argmax(0, true);
  EXPECT_TRUE((pca.components.gather(0, largest) > 0).all().item<bool>());
}

TEST(Pca, DimensionOutOfRangeIsAnError) {
  try {
    fit_pca(torch::zeros({5, 3}, kDouble), 4);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "data.pca_dim: 4 is out of range for data of 3 dimensions (expected 1..3)");
  }
}

TEST(Pca, SaveLoadRoundTrip) {
  testing::TempDir dir;
  torch::manual_seed(2);
  const Pca pca = fit_pca(torch::randn({50, 5}, kDouble), 2);
  save_pca(dir.file("pca.pt"), pca);
  const Pca back = load_pca(dir.file("pca.pt"));
  EXPECT_TRUE(torch::equal(back.mean, pca.mean));
  EXPECT_TRUE(torch::equal(back.components, pca.components));
  EXPECT_TRUE(torch::equal(back.explained_variance, pca.explained_variance));
  EXPECT_THROW(load_pca(dir.file("missing.pt")), DataError);
}

}  // namespace
}  // namespace lvm::data
