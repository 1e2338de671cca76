// The picture modes of lvm/represent/pictures.h: the paths, quantile grid and sweeps against their
// closed forms, and the model-level pictures on an "identity" model (q(z|x) = N(x, I), E[x|z] = z)
// whose decoded images are the codes themselves, so each picture's codes can be read off directly.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "lvm/distributions/categorical.h"
#include "lvm/distributions/normal.h"
#include "lvm/models/gmm/gaussian_mixture.h"
#include "lvm/represent/pictures.h"
#include "tests/testing.h"

namespace lvm::represent {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

void expect_near(const torch::Tensor& actual, const torch::Tensor& expected, double tolerance,
                 const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  EXPECT_LE((actual - expected).abs().max().item<double>(), tolerance) << what;
}

// Z = D; p(z) = N(mean, diag(exp(log_var))), q(z|x) = N(x, I), p(x|z) = N(z, I).
class IdentityModel : public LatentVariableModel {
 public:
  IdentityModel(torch::Tensor prior_mean, torch::Tensor prior_log_var)
      : mean_(std::move(prior_mean)), log_var_(std::move(prior_log_var)) {}
  std::string kind() const override { return "identity"; }
  int64_t data_dim() const override { return mean_.size(0); }
  int64_t latent_dim() const override { return mean_.size(0); }
  std::shared_ptr<Distribution> prior() override { return std::make_shared<Normal>(mean_, log_var_); }
  std::shared_ptr<Distribution> likelihood(const torch::Tensor& z) override {
    return std::make_shared<Normal>(z, torch::zeros_like(z));
  }
  std::shared_ptr<Distribution> proposal(const torch::Tensor& x) override {
    return std::make_shared<Normal>(x, torch::zeros_like(x));
  }

 private:
  torch::Tensor mean_, log_var_;
};

// A 2-class discrete latent: no Gaussian prior, no q(z|x).
class CategoricalModel : public LatentVariableModel {
 public:
  std::string kind() const override { return "two_class"; }
  int64_t data_dim() const override { return 2; }
  int64_t latent_dim() const override { return 2; }
  std::shared_ptr<Distribution> prior() override {
    return std::make_shared<Categorical>(torch::zeros({2}, kDouble));
  }
  std::shared_ptr<Distribution> likelihood(const torch::Tensor& z) override {
    const auto means = torch::eye(2, kDouble).index_select(0, z.flatten()).reshape({-1, 2});
    return std::make_shared<Normal>(means, torch::zeros_like(means));
  }
};

IdentityModel standard_identity(int64_t dim) {
  return IdentityModel(torch::zeros({dim}, kDouble), torch::zeros({dim}, kDouble));
}

// Φ(q), the standard normal CDF, in closed form.
double normal_cdf(double q) { return 0.5 * std::erfc(-q / std::sqrt(2.0)); }

TEST(Pictures, LinearPathRunsStraightFromAToB) {
  const auto a = torch::tensor({1.0, -2.0, 0.5}, kDouble), b = torch::tensor({3.0, 0.0, -0.5}, kDouble);
  const auto path = linear_path(a, b, torch::tensor({0.0, 0.25, 1.0}, kDouble));
  ASSERT_EQ(path.sizes(), (std::vector<int64_t>{3, 3}));
  expect_near(path[0], a, 1e-15, "t = 0");
  expect_near(path[1], torch::tensor({1.5, -1.5, 0.25}, kDouble), 1e-15, "t = 1/4");
  expect_near(path[2], b, 1e-15, "t = 1");
}

TEST(Pictures, SphericalPathKeepsTheNormAndTheEnds) {
  // Orthogonal codes of norm 2: the path is the quarter circle 2 (cos(tπ/2), sin(tπ/2), 0).
  const auto a = torch::tensor({2.0, 0.0, 0.0}, kDouble), b = torch::tensor({0.0, 2.0, 0.0}, kDouble);
  const auto t = torch::linspace(0, 1, 5, kDouble);
  const auto path = spherical_path(a, b, t);
  ASSERT_EQ(path.sizes(), (std::vector<int64_t>{5, 3}));
  const auto angle = t * (M_PI / 2);
  const auto circle = torch::stack({2 * torch::cos(angle), 2 * torch::sin(angle), torch::zeros_like(t)}, 1);
  expect_near(path, circle, 1e-12, "quarter circle");
  expect_near(path[0], a, 1e-12, "t = 0");
  expect_near(path[4], b, 1e-12, "t = 1");
  expect_near(path[2], torch::tensor({std::sqrt(2.0), std::sqrt(2.0), 0.0}, kDouble), 1e-12, "midpoint");

  // Any two codes of equal norm: every point keeps it (a straight line would cut inside).
  const auto c = torch::tensor({1.0, 2.0, 2.0}, kDouble), d = torch::tensor({-2.0, 1.0, 2.0}, kDouble);
  const auto arc = spherical_path(c, d, torch::linspace(0, 1, 7, kDouble));
  expect_near(arc.norm(2, 1), torch::full({7}, 3.0, kDouble), 1e-12, "norms on the arc");
  expect_near(arc[0], c, 1e-12, "arc t = 0");
  expect_near(arc[6], d, 1e-12, "arc t = 1");
  EXPECT_LT(linear_path(c, d, torch::tensor({0.5}, kDouble)).norm().item<double>(), 3.0 - 1e-3);

  // Antiparallel: no plane to rotate in, the straight line through 0.
  const auto straight = spherical_path(a, -a, torch::tensor({0.0, 0.5, 1.0}, kDouble));
  expect_near(straight, linear_path(a, -a, torch::tensor({0.0, 0.5, 1.0}, kDouble)), 1e-15, "antiparallel");
  expect_near(straight[1], torch::zeros({3}, kDouble), 1e-15, "antiparallel midpoint");
}

TEST(Pictures, QuantileGridIsTheInverseCdfAtTheCellCentres) {
  for (int64_t steps : {2, 4, 5, 20}) {
    const auto q = normal_quantile_grid(steps, kDouble);
    ASSERT_EQ(q.sizes(), (std::vector<int64_t>{steps}));
    for (int64_t i = 0; i < steps; ++i) {
      const double expected_p = (static_cast<double>(i) + 0.5) / static_cast<double>(steps);
      EXPECT_NEAR(normal_cdf(q[i].item<double>()), expected_p, 1e-12) << steps << " steps, cell " << i;
      EXPECT_NEAR(q[i].item<double>(), -q[steps - 1 - i].item<double>(), 1e-12) << "symmetry";
    }
  }
  EXPECT_NEAR(normal_quantile_grid(5, kDouble)[2].item<double>(), 0.0, 1e-15) << "centre";
  // Tabulated: Φ⁻¹(1/8), Φ⁻¹(3/8).
  const auto q4 = normal_quantile_grid(4, kDouble);
  EXPECT_NEAR(q4[0].item<double>(), -1.1503493803760079, 1e-12);
  EXPECT_NEAR(q4[1].item<double>(), -0.31863936396437514, 1e-12);
}

TEST(Pictures, ManifoldCodesScaleTheQuantilesByThePrior) {
  const auto mean = torch::tensor({1.0, -2.0}, kDouble), std_dev = torch::tensor({2.0, 0.5}, kDouble);
  const Normal prior(mean, 2 * torch::log(std_dev));
  const auto z = manifold_codes(prior, 3);
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{9, 2}));
  const auto q = normal_quantile_grid(3, kDouble);
  for (int64_t row = 0; row < 3; ++row) {
    for (int64_t column = 0; column < 3; ++column) {
      // z_0 grows to the right, z_1 upwards: the top row has the largest z_1.
      const auto expected = mean + std_dev * torch::stack({q[column], q[2 - row]});
      expect_near(z[row * 3 + column], expected, 1e-12,
                  "row " + std::to_string(row) + " column " + std::to_string(column));
    }
  }
  expect_near(z[4], mean, 1e-12, "the centre cell is the prior's mean");
  EXPECT_THROW(manifold_codes(Normal::standard(3, kDouble), 3), std::invalid_argument);
  EXPECT_THROW(manifold_codes(prior, 1), std::invalid_argument);
}

TEST(Pictures, SweepChangesOnlyTheChosenDimension) {
  const auto code = torch::tensor({0.5, -1.0, 2.0, 0.0}, kDouble);
  const auto offsets = torch::tensor({-1.5, 0.0, 3.0}, kDouble);
  const auto z = sweep_dimension(code, 2, offsets);
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{3, 4}));
  for (int64_t s = 0; s < 3; ++s) {
    auto expected = code.clone();
    expected[2] += offsets[s];
    expect_near(z[s], expected, 1e-15, "step " + std::to_string(s));
  }
  EXPECT_THROW(sweep_dimension(code, 4, offsets), std::invalid_argument);
  EXPECT_THROW(sweep_dimension(code, -1, offsets), std::invalid_argument);
}

TEST(Pictures, SamplesReconstructionsAndInterpolationOnTheIdentityModel) {
  auto model = standard_identity(3);
  torch::manual_seed(0);
  EXPECT_EQ(prior_samples(model, 7).sizes(), (std::vector<int64_t>{7, 3}));

  const auto x = torch::tensor({{0.1, 0.2, 0.3}, {0.9, 0.5, 0.0}}, kDouble);
  expect_near(posterior_means(model, x), x, 0, "q(z|x) = N(x, I)");
  expect_near(reconstructions(model, x), x, 0, "reconstructions");

  InterpolationOptions options;
  options.steps = 5;
  const auto row = interpolation(model, x[0], x[1], options);
  ASSERT_EQ(row.sizes(), (std::vector<int64_t>{7, 3}));  // image a, 5 points, image b
  expect_near(row[0], x[0], 0, "image a");
  expect_near(row[6], x[1], 0, "image b");
  expect_near(row.narrow(0, 1, 5), linear_path(x[0], x[1], torch::linspace(0, 1, 5, kDouble)), 1e-12, "path");
  options.spherical = true;
  const auto arc = interpolation(model, x[0], x[1], options);
  expect_near(arc.narrow(0, 1, 5), spherical_path(x[0], x[1], torch::linspace(0, 1, 5, kDouble)), 1e-12,
              "spherical path");
  options.steps = 1;
  EXPECT_THROW(interpolation(model, x[0], x[1], options), std::invalid_argument);
}

TEST(Pictures, TraversalSweepsTheDimensionsOfHighestKlByThePriorsStandardDeviation) {
  // Prior standard deviations 1, 2, 1/2; q(z_d|x) = N(x_d, 1), so
  // KL_d = log s_d + (1 + mean of (x_d - m_d)²) / (2 s_d²) - 1/2 in closed form.
  const auto std_dev = torch::tensor({1.0, 2.0, 0.5}, kDouble);
  IdentityModel model(torch::zeros({3}, kDouble), 2 * torch::log(std_dev));
  const auto images = torch::tensor({{1.0, 0.0, 0.2}, {-1.0, 4.0, -0.2}, {3.0, 2.0, 0.0}}, kDouble);
  const auto second_moment = images.pow(2).mean(0);
  const auto kl = torch::log(std_dev) + (1 + second_moment) / (2 * std_dev.pow(2)) - 0.5;

  TraversalOptions options;
  options.steps = 3;
  options.range = 2.0;
  options.dims = 2;
  const auto t = traversal(model, images, images[1], options);
  // encode() keeps the codes in float32.
  expect_near(t.kl, kl, 1e-5, "KL per dimension");
  EXPECT_EQ(t.kl_images, 3);
  const auto order = kl.argsort(0, /*descending=*/true);
  ASSERT_EQ(t.dims.size(), 2u);
  EXPECT_EQ(t.dims[0], order[0].item<int64_t>());
  EXPECT_EQ(t.dims[1], order[1].item<int64_t>());

  ASSERT_EQ(t.images.sizes(), (std::vector<int64_t>{6, 3}));
  const double offsets[3] = {-2.0, 0.0, 2.0};
  for (int64_t r = 0; r < 2; ++r) {
    const int64_t d = t.dims[static_cast<size_t>(r)];
    for (int64_t s = 0; s < 3; ++s) {
      auto expected = images[1].clone();
      expected[d] += offsets[s] * std_dev[d].item<double>();
      expect_near(t.images[r * 3 + s], expected, 1e-12,
                  "row " + std::to_string(r) + " step " + std::to_string(s));
    }
  }

  // dims 0: every dimension; kl_images limits the images that order them.
  options.dims = 0;
  options.kl_images = 1;
  const auto all = traversal(model, images, images[0], options);
  EXPECT_EQ(all.dims.size(), 3u);
  EXPECT_EQ(all.kl_images, 1);
  EXPECT_EQ(all.images.sizes(), (std::vector<int64_t>{9, 3}));
  expect_near(all.kl, torch::log(std_dev) + (1 + images[0].pow(2)) / (2 * std_dev.pow(2)) - 0.5, 1e-5,
              "KL over the first image");
}

TEST(Pictures, ManifoldDecodesTheQuantileGrid) {
  const auto mean = torch::tensor({0.5, -1.0}, kDouble),
             log_var = torch::tensor({0.0, std::log(4.0)}, kDouble);
  IdentityModel model(mean, log_var);
  const auto x = manifold(model, 4);
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{16, 2}));
  expect_near(x, manifold_codes(Normal(mean, log_var), 4), 1e-12, "decoded codes");
  auto three = standard_identity(3);
  EXPECT_THROW(manifold(three, 4), std::invalid_argument);
}

TEST(Pictures, LatentPointsAreThePosteriorMeansOrTheirPrincipalComponents) {
  const auto x2 = torch::tensor({{0.0, 1.0}, {2.0, -1.0}, {1.0, 0.5}}, torch::kFloat);
  const auto labels = torch::tensor({0, 1, 1}, torch::kLong);
  IdentityModel model2(torch::zeros({2}), torch::zeros({2}));
  const auto p2 = latent_points(model2, x2, labels);
  EXPECT_FALSE(p2.projected);
  expect_near(p2.points, x2, 0, "2-D: the means themselves");
  EXPECT_TRUE(torch::equal(p2.labels, labels));

  IdentityModel model3(torch::zeros({3}), torch::zeros({3}));
  const auto x3 = torch::tensor({{0.0, 1.0, 2.0}, {2.0, -1.0, 0.0}, {1.0, 0.5, 1.0}, {0.0, 0.0, 3.0}});
  const auto p3 = latent_points(model3, x3, torch::Tensor());
  EXPECT_TRUE(p3.projected);
  EXPECT_EQ(p3.points.sizes(), (std::vector<int64_t>{4, 2}));

  IdentityModel model1(torch::zeros({1}), torch::zeros({1}));
  EXPECT_THROW(latent_points(model1, torch::zeros({2, 1}), torch::Tensor()), std::invalid_argument);
}

// The message of the std::invalid_argument that f throws ("" if none).
template <typename F>
std::string refusal(F f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Pictures, ModesNeedingAGaussianPriorOrAnEncoderRefuseOtherModels) {
  CategoricalModel model;
  const auto images = torch::zeros({3, 2}, kDouble);
  const auto traverse = refusal([&] { traversal(model, images, images[0], TraversalOptions()); });
  EXPECT_NE(traverse.find("--traverse needs a Gaussian prior p(z)"), std::string::npos) << traverse;
  EXPECT_NE(traverse.find("two_class"), std::string::npos) << traverse;
  const auto grid = refusal([&] { manifold(model, 4); });
  EXPECT_NE(grid.find("--manifold needs a Gaussian prior p(z)"), std::string::npos) << grid;
  EXPECT_NE(grid.find("two_class"), std::string::npos) << grid;
  EXPECT_EQ(refusal([&] { posterior_means(model, images); }),
            "this two_class model has no q(z|x) to encode images with");
  EXPECT_EQ(refusal([&] { reconstructions(model, images); }),
            "this two_class model has no q(z|x) to encode images with");
  // Samples need neither.
  torch::manual_seed(0);
  EXPECT_EQ(prior_samples(model, 5).sizes(), (std::vector<int64_t>{5, 2}));
}

TEST(Pictures, PointsOfAMixtureComeFromTheirComponentsAndReadBackExactly) {
  // Components far apart with tiny spread: each draw lies next to the mean of the component it
  // names, and the components turn up in proportion to their weights.
  GaussianMixture gmm(GaussianMixtureOptions(2, 2).covariance(CovarianceType::kSpherical).reg_covar(1e-6));
  gmm.set_parameters(torch::tensor({0.25, 0.75}, kDouble),
                     torch::tensor({-10.0, 0.0, 10.0, 5.0}, kDouble).reshape({2, 2}),
                     torch::tensor({1e-4, 1e-4}, kDouble));
  torch::manual_seed(4);
  const auto draws = prior_points(gmm, 4000);
  ASSERT_EQ(draws.points.sizes(), (std::vector<int64_t>{4000, 2}));
  ASSERT_EQ(draws.latent.sizes(), (std::vector<int64_t>{4000}));
  const auto means = gmm.means().detach().index_select(0, draws.latent);
  EXPECT_LT((draws.points - means).abs().max().item<double>(), 0.1);
  // Share of component 1: 0.75 within 4 standard errors (sqrt(0.75 * 0.25 / 4000) = 0.0068).
  EXPECT_NEAR(draws.latent.to(torch::kDouble).mean().item<double>(), 0.75, 4 * 0.0068);

  const auto rows = testing::csv_cells(points_csv(draws));
  ASSERT_EQ(rows.size(), 4001u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"index", "component", "x_0", "x_1"}));
  for (int64_t i : {0, 1, 3999}) {
    EXPECT_EQ(rows[i + 1][0], std::to_string(i));
    EXPECT_EQ(std::stoll(rows[i + 1][1]), draws.latent[i].item<int64_t>());
    EXPECT_EQ(std::stod(rows[i + 1][2]), draws.points[i][0].item<double>());
    EXPECT_EQ(std::stod(rows[i + 1][3]), draws.points[i][1].item<double>());
  }
}

}  // namespace
}  // namespace lvm::represent
