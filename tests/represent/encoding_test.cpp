// Representation x -> z: encode() is the encoder's output, the CSV reads back to the same
// numbers, principal components on data of known structure, and per-dimension KL against the
// closed form.

#include "lvm/represent/encoding.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

#include "lvm/distributions/kl.h"
#include "lvm/models/gmm/gaussian_mixture.h"
#include "lvm/models/vae/vae.h"
#include "tests/testing.h"

namespace lvm::represent {
namespace {

std::shared_ptr<Vae> small_vae(int64_t latent_dim) {
  torch::manual_seed(3);
  auto vae = std::make_shared<Vae>(VaeOptions(16, latent_dim).encoder_hidden({8}).decoder_hidden({8}));
  vae->eval();
  return vae;
}

TEST(Encoding, EncodeIsTheEncodersOutputInAnyBatching) {
  auto vae = small_vae(3);
  torch::manual_seed(5);
  const auto x = torch::rand({10, 16});
  const auto labels = torch::arange(10, torch::kLong);
  const auto q = vae->encode(x);
  const auto all = encode(*vae, x, labels, 1000);
  const auto batched = encode(*vae, x, labels, 3);  // 3 + 3 + 3 + 1
  ASSERT_EQ(all.mean.sizes(), (std::vector<int64_t>{10, 3}));
  ASSERT_EQ(all.log_var.sizes(), (std::vector<int64_t>{10, 3}));
  EXPECT_TRUE(torch::allclose(all.mean, q.mean().detach(), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(all.log_var, q.log_var().detach(), 1e-6, 1e-6));
  // Rows do not depend on their batch beyond BLAS summation order (float32 rounding).
  EXPECT_TRUE(torch::allclose(batched.mean, all.mean, 1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(all.labels, labels));
  EXPECT_FALSE(all.mean.requires_grad());
}

TEST(Encoding, CsvHasTheHeaderAndReadsBackExactly) {
  Encoding e;
  e.mean = torch::tensor({0.1f, -2.5e-7f, 3.14159274f, 1e6f}).reshape({2, 2});
  e.log_var = torch::tensor({-1.0f, 0.0f, 0.333333343f, -7.25f}).reshape({2, 2});
  e.labels = torch::tensor({7, 2}, torch::kLong);
  const auto rows = testing::csv_cells(encoding_csv(e));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0],
            (std::vector<std::string>{"index", "label", "mean_0", "mean_1", "log_var_0", "log_var_1"}));
  for (int64_t i = 0; i < 2; ++i) {
    ASSERT_EQ(rows[i + 1].size(), 6u);
    EXPECT_EQ(rows[i + 1][0], std::to_string(i));
    EXPECT_EQ(rows[i + 1][1], std::to_string(e.labels[i].item<int64_t>()));
    for (int64_t d = 0; d < 2; ++d) {
      EXPECT_EQ(std::stof(rows[i + 1][2 + d]), e.mean[i][d].item<float>()) << rows[i + 1][2 + d];
      EXPECT_EQ(std::stof(rows[i + 1][4 + d]), e.log_var[i][d].item<float>()) << rows[i + 1][4 + d];
    }
  }
  // Without labels the column stays, empty.
  e.labels = torch::Tensor();
  const auto unlabelled = testing::csv_cells(encoding_csv(e));
  EXPECT_EQ(unlabelled[1][1], "");
}

TEST(Encoding, PrincipalComponentsRecoverAKnownBasis) {
  // Points a u + b v + c with a in {-3, 3}, b in {-1, 1} (all four pairs): centred covariance
  // 9 u u^T + v v^T, so the components are exactly u and v and the projections are (a, b).
  const auto u = torch::tensor({0.6, 0.0, 0.8, 0.0}, torch::kDouble);   // largest coefficient +0.8
  const auto v = torch::tensor({0.0, -0.6, 0.0, 0.8}, torch::kDouble);  // largest coefficient +0.8
  const auto c = torch::tensor({5.0, -1.0, 2.0, 0.5}, torch::kDouble);
  const auto a = torch::tensor({-3.0, -3.0, 3.0, 3.0}, torch::kDouble),
             b = torch::tensor({-1.0, 1.0, -1.0, 1.0}, torch::kDouble);
  const auto x = a.unsqueeze(1) * u + b.unsqueeze(1) * v + c;
  const auto projected = principal_components(x, 2);
  ASSERT_EQ(projected.sizes(), (std::vector<int64_t>{4, 2}));
  EXPECT_TRUE(torch::allclose(projected.select(1, 0), a, 1e-9, 1e-9)) << projected;
  EXPECT_TRUE(torch::allclose(projected.select(1, 1), b, 1e-9, 1e-9)) << projected;
  // The sign rule makes the result independent of the data's sign flips along a component.
  EXPECT_TRUE(torch::allclose(principal_components(-x, 2).select(1, 0), -a, 1e-9, 1e-9));
  EXPECT_THROW(principal_components(x, 5), c10::Error);
}

TEST(Encoding, KlPerDimensionMatchesTheClosedFormAndSumsToTheKl) {
  auto vae = small_vae(2);
  Encoding e;
  e.mean = torch::tensor({0.0f, 1.0f, 2.0f, -1.0f}).reshape({2, 2});
  e.log_var = torch::tensor({0.0f, -1.0f, 0.5f, -2.0f}).reshape({2, 2});
  const auto kl = kl_per_dimension(*vae, e);
  ASSERT_EQ(kl.sizes(), (std::vector<int64_t>{2}));
  // KL(N(m, s^2) || N(0, 1)) = (s^2 + m^2 - 1 - log s^2) / 2, averaged over the two rows.
  const auto closed = [](double m, double lv) { return 0.5 * (std::exp(lv) + m * m - 1 - lv); };
  EXPECT_NEAR(kl[0].item<double>(), 0.5 * (closed(0, 0) + closed(2, 0.5)), 1e-6);
  EXPECT_NEAR(kl[1].item<double>(), 0.5 * (closed(1, -1) + closed(-1, -2)), 1e-6);
  // The per-dimension terms add up to the summed KL of the whole code.
  const auto total = kl_divergence(Normal(e.mean.to(torch::kDouble), e.log_var.to(torch::kDouble)),
                                   Normal::standard(2, torch::kDouble))
                         .mean();
  EXPECT_NEAR(kl.sum().item<double>(), total.item<double>(), 1e-9);
}

TEST(Encoding, SplitsByNameAndModelView) {
  data::ImageDataset dataset;
  dataset.train = {torch::full({4, 3}, 0.5), torch::zeros({4}, torch::kLong)};
  dataset.test = {torch::full({2, 3}, 0.25), torch::zeros({2}, torch::kLong)};
  dataset.validation = {torch::empty({0, 3}), torch::empty({0}, torch::kLong)};
  EXPECT_EQ(split_by_name(dataset, "train").size(), 4);
  EXPECT_EQ(split_by_name(dataset, "test").size(), 2);
  try {
    split_by_name(dataset, "validation");
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--split validation: the split is empty"), std::string::npos)
        << e.what();
  }
  try {
    split_by_name(dataset, "tset");
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--split tset: unknown split"), std::string::npos) << e.what();
  }
  // Dynamic binarisation: one fixed binary draw, the same every time; otherwise unchanged.
  const auto grey = torch::rand({50, 20});
  const auto a = model_view(grey, data::Binarization::kDynamic);
  EXPECT_TRUE(torch::all((a == 0) | (a == 1)).item<bool>());
  EXPECT_TRUE(torch::equal(a, model_view(grey, data::Binarization::kDynamic)));
  EXPECT_TRUE(torch::equal(model_view(grey, data::Binarization::kNone), grey));
}

// Three well-separated 2-D components with unequal weights.
std::shared_ptr<GaussianMixture> small_mixture() {
  auto gmm =
      std::make_shared<GaussianMixture>(GaussianMixtureOptions(2, 3).covariance(CovarianceType::kDiag));
  const auto opts = torch::TensorOptions().dtype(torch::kDouble);
  gmm->set_parameters(torch::tensor({0.5, 0.3, 0.2}, opts),
                      torch::tensor({-4.0, 0.0, 0.0, 4.0, 4.0, 0.0}, opts).reshape({3, 2}),
                      torch::tensor({1.0, 0.5, 0.8, 1.2, 0.3, 2.0}, opts).reshape({3, 2}));
  return gmm;
}

TEST(Responsibilities, AreTheMixturesPosteriorInAnyBatching) {
  auto gmm = small_mixture();
  torch::manual_seed(2);
  const auto x = torch::randn({11, 2}, torch::kDouble) * 4;
  const auto labels = torch::arange(11, torch::kLong);
  EXPECT_TRUE(has_discrete_posterior(*gmm, x));
  EXPECT_FALSE(has_discrete_posterior(*small_vae(2), torch::rand({3, 16})));
  const auto all = responsibilities(*gmm, x, labels, 1000);
  const auto batched = responsibilities(*gmm, x, labels, 4);  // 4 + 4 + 3
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(all.probs, gmm->responsibilities(x), 1e-12, 1e-14));
  EXPECT_TRUE(torch::equal(batched.probs, all.probs));
  EXPECT_TRUE(torch::allclose(all.probs.sum(1), torch::ones({11}, torch::kDouble), 1e-12, 1e-14));
  EXPECT_TRUE(torch::equal(all.labels, labels));
  // A model with a Gaussian q(z|x) has no responsibilities, and says so.
  try {
    responsibilities(*small_vae(2), torch::rand({3, 16}), {});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("not over a discrete latent"), std::string::npos) << e.what();
  }
}

TEST(Responsibilities, CsvNamesTheMostProbableComponentAndReadsBackExactly) {
  Responsibilities r;
  r.probs = torch::tensor({0.1, 0.7, 0.2, 0.6, 0.3000000000000001, 0.1}, torch::kDouble).reshape({2, 3});
  r.labels = torch::tensor({4, -1}, torch::kLong);  // -1: no label (vector data)
  const auto rows = testing::csv_cells(responsibilities_csv(r));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"index", "label", "component", "p_0", "p_1", "p_2"}));
  EXPECT_EQ(rows[1][1], "4");
  EXPECT_EQ(rows[2][1], "");
  EXPECT_EQ(rows[1][2], "1");
  EXPECT_EQ(rows[2][2], "0");
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t k = 0; k < 3; ++k) EXPECT_EQ(std::stod(rows[i + 1][3 + k]), r.probs[i][k].item<double>());
  // encode_csv picks this form for a mixture and the Gaussian one for a VAE.
  auto gmm = small_mixture();
  const auto x = torch::tensor({-4.0, 0.0, 4.0, 0.1}, torch::kDouble).reshape({2, 2});
  EXPECT_EQ(encode_csv(*gmm, x, {}), responsibilities_csv(responsibilities(*gmm, x, {})));
  auto vae = small_vae(2);
  const auto images = torch::rand({3, 16});
  EXPECT_EQ(encode_csv(*vae, images, {}), encoding_csv(encode(*vae, images, {})));
}

}  // namespace
}  // namespace lvm::represent
