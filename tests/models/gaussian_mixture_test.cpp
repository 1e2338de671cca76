// The Gaussian mixture against direct double-precision computations, the estimators' view of it
// (prior sampling and importance sampling with its exact posterior), EM's guarantees, recovery
// of known parameters, and degenerate data.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "lvm/models/gmm/gaussian_mixture.h"
#include "lvm/models/gmm/gmm_em.h"
#include "lvm/objectives/objective.h"

namespace lvm {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);
using Matrix = std::vector<std::vector<double>>;

// log N(x; μ, Σ) by Gaussian elimination with partial pivoting: determinant and Σ⁻¹(x − μ).
double naive_log_normal(const std::vector<double>& x, const std::vector<double>& mu, Matrix sigma) {
  const size_t d = x.size();
  std::vector<double> rhs(d);
  for (size_t i = 0; i < d; ++i) rhs[i] = x[i] - mu[i];
  const std::vector<double> diff = rhs;
  double log_det = 0;
  for (size_t col = 0; col < d; ++col) {
    size_t pivot = col;
    for (size_t r = col + 1; r < d; ++r)
      if (std::abs(sigma[r][col]) > std::abs(sigma[pivot][col])) pivot = r;
    std::swap(sigma[col], sigma[pivot]);
    std::swap(rhs[col], rhs[pivot]);
    log_det += std::log(std::abs(sigma[col][col]));
    for (size_t r = col + 1; r < d; ++r) {
      const double f = sigma[r][col] / sigma[col][col];
      for (size_t c = col; c < d; ++c) sigma[r][c] -= f * sigma[col][c];
      rhs[r] -= f * rhs[col];
    }
  }
  std::vector<double> solution(d);
  for (size_t i = d; i-- > 0;) {
    double s = rhs[i];
    for (size_t c = i + 1; c < d; ++c) s -= sigma[i][c] * solution[c];
    solution[i] = s / sigma[i][i];
  }
  double quad = 0;
  for (size_t i = 0; i < d; ++i) quad += diff[i] * solution[i];
  return -0.5 * (static_cast<double>(d) * std::log(2 * M_PI) + log_det + quad);
}

std::vector<double> row(const torch::Tensor& t) {
  const auto c = t.to(torch::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

Matrix matrix(const torch::Tensor& t) {
  Matrix m;
  for (int64_t i = 0; i < t.size(0); ++i) m.push_back(row(t[i]));
  return m;
}

// Three components in 3-D with distinct, well-conditioned covariances, as the type stores them.
struct Truth {
  torch::Tensor weights = torch::tensor({0.5, 0.3, 0.2}, kDouble);
  torch::Tensor means = torch::tensor({{0.0, 1.0, -1.0}, {2.0, -1.0, 0.5}, {-1.5, 0.5, 2.0}}, kDouble);
  torch::Tensor full =
      torch::stack({torch::tensor({{1.0, 0.3, -0.2}, {0.3, 0.8, 0.1}, {-0.2, 0.1, 0.5}}, kDouble),
                    torch::tensor({{0.4, -0.1, 0.0}, {-0.1, 1.5, 0.6}, {0.0, 0.6, 0.9}}, kDouble),
                    torch::tensor({{2.0, 0.5, 0.3}, {0.5, 0.7, 0.0}, {0.3, 0.0, 1.2}}, kDouble)});
  torch::Tensor diag = torch::tensor({{1.0, 0.5, 2.0}, {0.3, 0.7, 1.1}, {1.5, 0.2, 0.6}}, kDouble);
  torch::Tensor spherical = torch::tensor({0.6, 1.3, 0.25}, kDouble);

  torch::Tensor stored(CovarianceType type) const {
    return type == CovarianceType::kFull ? full : type == CovarianceType::kDiag ? diag : spherical;
  }
  torch::Tensor dense(CovarianceType type) const {
    if (type == CovarianceType::kFull) return full;
    if (type == CovarianceType::kDiag) return torch::diag_embed(diag);
    return torch::diag_embed(spherical.unsqueeze(1).expand({3, 3}));
  }
};

GaussianMixture make_truth(CovarianceType type, double reg = 1e-6) {
  GaussianMixture model(GaussianMixtureOptions(3, 3).covariance(type).reg_covar(reg));
  const Truth truth;
  model.set_parameters(truth.weights, truth.means, truth.stored(type));
  return model;
}

const std::vector<CovarianceType> kTypes = {CovarianceType::kFull, CovarianceType::kDiag,
                                            CovarianceType::kSpherical};

TEST(GaussianMixture, ExactLogMarginalMatchesDirectComputation) {
  const Truth truth;
  const auto x =
      torch::tensor({{0.1, 0.2, 0.3}, {2.5, -1.0, 0.0}, {-3.0, 4.0, 1.0}, {10.0, -10.0, 5.0}}, kDouble);
  for (const auto type : kTypes) {
    auto model = make_truth(type);
    const auto log_px = *model.exact_log_marginal(x);
    const auto sigma = truth.dense(type);
    for (int64_t b = 0; b < x.size(0); ++b) {
      // log Σ_k π_k N(x; μ_k, Σ_k), shifted by the largest term so that far points do not underflow.
      std::vector<double> terms;
      for (int64_t k = 0; k < 3; ++k) {
        terms.push_back(std::log(truth.weights[k].item<double>()) +
                        naive_log_normal(row(x[b]), row(truth.means[k]), matrix(sigma[k])));
      }
      const double top = *std::max_element(terms.begin(), terms.end());
      double sum = 0;
      for (double t : terms) sum += std::exp(t - top);
      EXPECT_NEAR(log_px[b].item<double>(), top + std::log(sum), 1e-9) << to_string(type) << " point " << b;
    }
  }
}

TEST(GaussianMixture, SetParametersRoundTripsAndCovariancesKeepTheFloor) {
  const Truth truth;
  for (const auto type : kTypes) {
    auto model = make_truth(type, 1e-3);
    EXPECT_TRUE(torch::allclose(model.weights(), truth.weights, 0, 1e-12));
    EXPECT_TRUE(torch::allclose(model.means(), truth.means, 0, 1e-12));
    EXPECT_TRUE(torch::allclose(model.covariances(), truth.dense(type), 0, 1e-10)) << to_string(type);
    EXPECT_TRUE(torch::allclose(torch::matmul(model.scale_tril(), model.scale_tril().transpose(1, 2)),
                                truth.dense(type), 0, 1e-10));
  }
  // Any unconstrained parameters give covariances with eigenvalues >= reg_covar.
  torch::manual_seed(3);
  for (const auto type : kTypes) {
    GaussianMixture model(GaussianMixtureOptions(4, 5).covariance(type).reg_covar(0.01));
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model.parameters()) p.copy_(torch::randn_like(p) * 6 - 4);
    }
    const auto eigenvalues = torch::linalg_eigvalsh(model.covariances());
    EXPECT_GE(eigenvalues.min().item<double>(), 0.01 * (1 - 1e-9)) << to_string(type);
    EXPECT_TRUE(torch::isfinite(*model.exact_log_marginal(torch::randn({7, 4}, kDouble))).all().item<bool>());
  }
  // A covariance below the floor (here zero) is raised to reg_covar·I.
  GaussianMixture model(GaussianMixtureOptions(2, 1).reg_covar(0.5));
  model.set_parameters(torch::ones({1}, kDouble), torch::zeros({1, 2}, kDouble),
                       torch::zeros({1, 2, 2}, kDouble));
  EXPECT_TRUE(torch::allclose(model.covariances()[0], 0.5 * torch::eye(2, kDouble), 0, 1e-9));
}

TEST(GaussianMixture, SetParametersRejectsBadInputAndLeavesTheModelUnchanged) {
  auto model = make_truth(CovarianceType::kFull);
  const auto before = model.covariances().clone();
  const Truth truth;
  try {
    model.set_parameters(truth.weights, truth.means, torch::ones({3, 3}, kDouble));
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("expected full covariances [3, 3, 3], got [3, 3]"),
              std::string::npos)
        << e.what();
  }
  auto bad_means = truth.means.clone();
  bad_means[1][2] = NAN;
  EXPECT_THROW(model.set_parameters(truth.weights, bad_means, truth.full), std::invalid_argument);
  EXPECT_THROW(model.set_parameters(torch::tensor({0.5, 0.5, 0.0}, kDouble), truth.means, truth.full),
               std::invalid_argument);
  EXPECT_TRUE(torch::equal(model.covariances(), before));
}

TEST(GaussianMixture, InterfaceShapesAndFusedLikelihood) {
  torch::manual_seed(1);
  for (const auto type : kTypes) {
    auto model = make_truth(type);
    const auto x = torch::randn({5, 3}, kDouble);
    const auto z = model.prior()->sample({4, 5});
    ASSERT_EQ(z.sizes(), (std::vector<int64_t>{4, 5}));
    ASSERT_EQ(z.scalar_type(), torch::kLong);
    const auto fused = model.log_likelihood(x, z);
    ASSERT_EQ(fused.sizes(), (std::vector<int64_t>{4, 5}));
    EXPECT_TRUE(torch::allclose(fused, model.likelihood(z)->log_prob(x), 0, 1e-10)) << to_string(type);
    EXPECT_EQ(model.log_joint(x, z).sizes(), (std::vector<int64_t>{4, 5}));
    EXPECT_EQ(model.sample(6).sizes(), (std::vector<int64_t>{6, 3}));
    EXPECT_EQ(model.proposal(x)->sample({7}).sizes(), (std::vector<int64_t>{7, 5}));
    const auto resp = model.responsibilities(x);
    EXPECT_TRUE(torch::allclose(resp.sum(1), torch::ones({5}, kDouble)));
    EXPECT_TRUE(torch::equal(model.predict(x), resp.argmax(1)));
    // Bayes: log p(z=k|x) = log p(x, z=k) − log p(x).
    const auto all = torch::arange(3, torch::kLong).unsqueeze(1).expand({3, 5});
    EXPECT_TRUE(torch::allclose(model.log_responsibilities(x).t(),
                                model.log_joint(x, all) - *model.exact_log_marginal(x), 0, 1e-10));
  }
  auto model = make_truth(CovarianceType::kFull);
  try {
    model.exact_log_marginal(torch::zeros({2, 4}, kDouble));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected x of shape [B, 3], got [2, 4]"), std::string::npos)
        << e.what();
  }
}

TEST(GaussianMixture, ImportanceSamplingWithTheExactPosteriorHasZeroVariance) {
  torch::manual_seed(2);
  auto model = make_truth(CovarianceType::kFull);
  const auto x = torch::tensor({{0.0, 0.0, 0.0}, {2.0, -1.0, 0.4}, {5.0, 5.0, -5.0}}, kDouble);
  const auto q = model.proposal(x);
  const auto z = q->sample({200});                            // [200, 3]
  const auto log_w = model.log_joint(x, z) - q->log_prob(z);  // every weight is p(x)
  const auto exact = model.exact_log_marginal(x)->unsqueeze(0);
  EXPECT_LT((log_w - exact).abs().max().item<double>(), 1e-10);
}

TEST(GaussianMixture, PriorSamplingConvergesToTheExactLogLikelihood) {
  torch::manual_seed(4);
  auto model = make_truth(CovarianceType::kFull);
  const auto x = torch::tensor({{0.2, 0.8, -0.7}, {1.5, -0.5, 1.0}, {-1.0, 0.0, 1.5}}, kDouble);
  const int64_t samples = 200000;
  const auto z = model.prior()->sample({samples, 3});  // [S, B]
  torch::Tensor log_w;
  {
    torch::NoGradGuard no_grad;
    log_w = model.log_likelihood(x, z);  // p(x|z) with z ~ p(z): weights of prior sampling
  }
  const auto exact = *model.exact_log_marginal(x);
  for (int64_t b = 0; b < 3; ++b) {
    const auto lw = log_w.select(1, b);
    const double estimate = (torch::logsumexp(lw, 0) - std::log(static_cast<double>(samples))).item<double>();
    // Delta method: sd(log p̂) ≈ sd(w) / (mean(w) √S).
    const auto w = torch::exp(lw - lw.max());
    const double relative_se =
        (w.std() / (w.mean() * std::sqrt(static_cast<double>(samples)))).item<double>();
    ASSERT_LT(relative_se, 0.01);  // the test is sharp enough to mean something
    EXPECT_NEAR(estimate, exact[b].item<double>(), 4 * relative_se) << "point " << b;
  }
}

TEST(GaussianMixture, SamplesHaveTheMixtureMean) {
  torch::manual_seed(5);
  auto model = make_truth(CovarianceType::kFull);
  const int64_t n = 100000;
  const auto samples = model.sample(n);
  const Truth truth;
  const auto mean = torch::matmul(truth.weights, truth.means);  // [3]
  // Var(x_d) = Σ_k π_k (Σ_k,dd + μ_kd²) − mean_d²
  const auto second = torch::matmul(truth.weights, torch::diagonal(truth.full, 0, 1, 2) + truth.means.pow(2));
  const auto se = torch::sqrt((second - mean.pow(2)) / static_cast<double>(n));
  EXPECT_TRUE(((samples.mean(0) - mean).abs() < 4 * se).all().item<bool>())
      << samples.mean(0) << " vs " << mean << " (se " << se << ")";
}

// x [N, D] from a mixture, reproducible.
torch::Tensor sample_mixture(GaussianMixture& model, int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  return model.sample(n);
}

TEST(GmmEm, MStepMatchesTheClosedFormsComputedByHand) {
  torch::manual_seed(13);
  const int64_t n = 30, d = 3, k = 2;
  const double reg = 1e-3;
  const auto x = torch::randn({n, d}, kDouble) * 2 + 1;
  const auto resp = torch::softmax(torch::randn({n, k}, kDouble), 1);
  for (const auto type : kTypes) {
    GaussianMixture model(GaussianMixtureOptions(d, k).covariance(type).reg_covar(reg));
    m_step(model, x, resp);
    const auto cov = model.covariances();
    for (int64_t j = 0; j < k; ++j) {
      double nk = 0;
      std::vector<double> mu(d, 0.0);
      for (int64_t i = 0; i < n; ++i) {
        nk += resp[i][j].item<double>();
        for (int64_t a = 0; a < d; ++a) mu[a] += resp[i][j].item<double>() * x[i][a].item<double>();
      }
      for (auto& m : mu) m /= nk;
      EXPECT_NEAR(model.weights()[j].item<double>(), nk / n, 1e-12);
      Matrix s(d, std::vector<double>(d, 0.0));
      for (int64_t i = 0; i < n; ++i)
        for (int64_t a = 0; a < d; ++a)
          for (int64_t b = 0; b < d; ++b)
            s[a][b] += resp[i][j].item<double>() * (x[i][a].item<double>() - mu[a]) *
                       (x[i][b].item<double>() - mu[b]) / nk;
      double spherical = 0;
      for (int64_t a = 0; a < d; ++a) spherical += s[a][a] / d;
      for (int64_t a = 0; a < d; ++a) {
        EXPECT_NEAR(model.means()[j][a].item<double>(), mu[a], 1e-12);
        for (int64_t b = 0; b < d; ++b) {
          double expected = type == CovarianceType::kFull   ? s[a][b]
                            : a != b                        ? 0.0
                            : type == CovarianceType::kDiag ? s[a][a]
                                                            : spherical;
          if (a == b) expected += reg;
          EXPECT_NEAR(cov[j][a][b].item<double>(), expected, 1e-12) << to_string(type) << " " << a << b;
        }
      }
    }
  }
}

TEST(GmmEm, ChunkedEStepGivesTheSameFit) {
  auto truth = make_truth(CovarianceType::kFull);
  const auto x = sample_mixture(truth, 300, 14);
  GaussianMixture whole(GaussianMixtureOptions(3, 3)), chunked(GaussianMixtureOptions(3, 3));
  initialize_gmm(whole, x, GmmInit::kKmeansPlusPlus, 3);
  initialize_gmm(chunked, x, GmmInit::kKmeansPlusPlus, 3);
  EmOptions options;
  options.max_steps = 20;
  options.tol = 0;
  const double a = fit_em(whole, x, options).mean_log_likelihood;
  options.chunk_size = 7;  // 43 chunks, the last partial
  const double b = fit_em(chunked, x, options).mean_log_likelihood;
  EXPECT_NEAR(a, b, 1e-12);
  EXPECT_TRUE(torch::allclose(whole.covariances(), chunked.covariances(), 0, 1e-10));
}

TEST(GmmEm, LogLikelihoodNeverDecreases) {
  auto truth = make_truth(CovarianceType::kFull);
  const auto x = sample_mixture(truth, 600, 6);
  for (const auto type : kTypes) {
    for (const auto init : {GmmInit::kRandom, GmmInit::kKmeansPlusPlus}) {
      GaussianMixture model(GaussianMixtureOptions(3, 5).covariance(type).reg_covar(1e-6));
      initialize_gmm(model, x, init, 7);
      std::vector<EmStep> steps;
      EmOptions options;
      options.max_steps = 80;
      options.tol = 0;  // every step, to the limit
      const auto result = fit_em(model, x, options, [&](const EmStep& s) { steps.push_back(s); });
      ASSERT_EQ(static_cast<int64_t>(steps.size()), 80);
      double previous = result.initial_mean_log_likelihood;
      for (const auto& s : steps) {
        EXPECT_GE(s.mean_log_likelihood, previous - 1e-12) << to_string(type) << " step " << s.step;
        EXPECT_NEAR(s.improvement, s.mean_log_likelihood - previous, 1e-14);
        previous = s.mean_log_likelihood;
      }
      EXPECT_GT(result.mean_log_likelihood, result.initial_mean_log_likelihood);
      EXPECT_NEAR(result.mean_log_likelihood, mean_log_likelihood(model, x), 1e-12);
    }
  }
}

TEST(GmmEm, StopsOnTolerance) {
  auto truth = make_truth(CovarianceType::kFull);
  const auto x = sample_mixture(truth, 500, 8);
  GaussianMixture model(GaussianMixtureOptions(3, 3));
  initialize_gmm(model, x, GmmInit::kKmeansPlusPlus, 0);
  EmOptions options;
  options.tol = 1e-4;
  options.max_steps = 500;
  std::vector<double> improvements;
  const auto result =
      fit_em(model, x, options, [&](const EmStep& s) { improvements.push_back(s.improvement); });
  EXPECT_TRUE(result.converged);
  EXPECT_LT(result.steps, 500);
  ASSERT_EQ(static_cast<int64_t>(improvements.size()), result.steps);
  EXPECT_LT(std::abs(improvements.back()), 1e-4);
  for (size_t i = 0; i + 1 < improvements.size(); ++i) EXPECT_GE(std::abs(improvements[i]), 1e-4);
}

TEST(GmmEm, RecoversTheParametersOfWellSeparatedComponents) {
  const auto weights = torch::tensor({0.5, 0.3, 0.2}, kDouble);
  const auto means = torch::tensor({{-6.0, 0.0}, {6.0, 0.0}, {0.0, 7.0}}, kDouble);
  const auto covariances = torch::stack({torch::tensor({{1.0, 0.5}, {0.5, 1.0}}, kDouble),
                                         torch::tensor({{0.5, -0.2}, {-0.2, 0.3}}, kDouble),
                                         torch::tensor({{2.0, 0.0}, {0.0, 0.5}}, kDouble)});
  GaussianMixture truth(GaussianMixtureOptions(2, 3).reg_covar(1e-9));
  truth.set_parameters(weights, means, covariances);
  const int64_t n = 8000;
  const auto x = sample_mixture(truth, n, 9);

  GaussianMixture model(GaussianMixtureOptions(2, 3).reg_covar(1e-9));
  initialize_gmm(model, x, GmmInit::kKmeansPlusPlus, 1);
  EmOptions options;
  options.tol = 1e-10;
  options.max_steps = 500;
  fit_em(model, x, options);

  // Match components by their means (the permutation with the smallest total distance).
  std::vector<int64_t> perm = {0, 1, 2}, best;
  double best_cost = INFINITY;
  do {
    double cost = 0;
    for (int64_t k = 0; k < 3; ++k) cost += (model.means()[perm[k]] - means[k]).norm().item<double>();
    if (cost < best_cost) {
      best_cost = cost;
      best = perm;
    }
  } while (std::next_permutation(perm.begin(), perm.end()));

  const auto fitted_cov = model.covariances();
  for (int64_t k = 0; k < 3; ++k) {
    const int64_t j = best[k];
    const double w = weights[k].item<double>();
    const double nk = w * static_cast<double>(n);
    EXPECT_NEAR(model.weights()[j].item<double>(), w, 5 * std::sqrt(w * (1 - w) / static_cast<double>(n)));
    for (int64_t a = 0; a < 2; ++a) {
      const double var_a = covariances[k][a][a].item<double>();
      EXPECT_NEAR(model.means()[j][a].item<double>(), means[k][a].item<double>(), 5 * std::sqrt(var_a / nk))
          << "component " << k << " mean " << a;
      for (int64_t b = 0; b < 2; ++b) {
        // Var of a sample covariance entry: (Σ_aa Σ_bb + Σ_ab²) / n_k.
        const double s_ab = covariances[k][a][b].item<double>();
        const double se = std::sqrt((var_a * covariances[k][b][b].item<double>() + s_ab * s_ab) / nk);
        EXPECT_NEAR(fitted_cov[j][a][b].item<double>(), s_ab, 5 * se)
            << "component " << k << " cov " << a << b;
      }
    }
  }
}

TEST(GmmEm, GradientAscentAndEmReachTheSameLogLikelihood) {
  const auto means = torch::tensor({{-3.0, 0.0}, {3.0, 0.5}, {0.0, 4.0}}, kDouble);
  GaussianMixture truth(GaussianMixtureOptions(2, 3));
  truth.set_parameters(
      torch::tensor({0.4, 0.35, 0.25}, kDouble), means,
      torch::stack({torch::tensor({{1.0, 0.3}, {0.3, 0.6}}, kDouble), torch::eye(2, kDouble) * 0.7,
                    torch::tensor({{0.5, -0.2}, {-0.2, 1.2}}, kDouble)}));
  const auto x = sample_mixture(truth, 400, 10);

  GaussianMixture by_em(GaussianMixtureOptions(2, 3));
  initialize_gmm(by_em, x, GmmInit::kKmeansPlusPlus, 2);
  GaussianMixture by_gradient(GaussianMixtureOptions(2, 3));
  initialize_gmm(by_gradient, x, GmmInit::kKmeansPlusPlus, 2);
  EmOptions options;
  options.tol = 1e-12;
  options.max_steps = 2000;
  const double em = fit_em(by_em, x, options).mean_log_likelihood;

  torch::optim::Adam adam(by_gradient.parameters(), torch::optim::AdamOptions(0.02));
  for (int step = 0; step < 1500; ++step) {
    adam.zero_grad();
    exact_log_likelihood(by_gradient, x).backward();
    adam.step();
  }
  const double gradient = mean_log_likelihood(by_gradient, x);
  EXPECT_NEAR(gradient, em, 1e-4);
  EXPECT_LE(gradient, em + 1e-9);  // EM sits at a maximum
}

TEST(GmmEm, AllPointsEqualGiveTheRegularisedPointMass) {
  const double reg = 1e-4;
  const auto x = torch::tensor({3.0, -1.0}, kDouble).expand({50, 2}).contiguous();
  for (const auto type : kTypes) {
    for (const auto init : {GmmInit::kRandom, GmmInit::kKmeansPlusPlus}) {
      GaussianMixture model(GaussianMixtureOptions(2, 3).covariance(type).reg_covar(reg));
      initialize_gmm(model, x, init, 0);
      fit_em(model, x);
      for (const auto& p : model.parameters())
        ASSERT_TRUE(torch::isfinite(p).all().item<bool>()) << to_string(type);
      EXPECT_TRUE(torch::allclose(model.means(), x.slice(0, 0, 3), 0, 1e-12));
      EXPECT_TRUE(
          torch::allclose(model.covariances(), reg * torch::eye(2, kDouble).expand({3, 2, 2}), 1e-6, 0));
      // log N(x; x, reg·I) = −(D/2) log(2π reg), whatever the weights.
      EXPECT_NEAR(mean_log_likelihood(model, x), -std::log(2 * M_PI * reg), 1e-6) << to_string(type);
    }
  }
}

TEST(GmmEm, PointsOnALineStayFiniteWithFullCovariances) {
  const auto t = torch::linspace(-1, 1, 40, kDouble);
  const auto x = torch::stack({t, 2 * t + 1}, 1);  // a singular scatter in every component
  GaussianMixture model(GaussianMixtureOptions(2, 2).reg_covar(1e-6));
  initialize_gmm(model, x, GmmInit::kKmeansPlusPlus, 0);
  fit_em(model, x);
  for (const auto& p : model.parameters()) ASSERT_TRUE(torch::isfinite(p).all().item<bool>());
  EXPECT_GE(torch::linalg_eigvalsh(model.covariances()).min().item<double>(), 1e-6 * (1 - 1e-6));
  EXPECT_TRUE(std::isfinite(mean_log_likelihood(model, x)));
}

TEST(GmmEm, TooFewPointsAndNonFiniteDataAreClearErrors) {
  GaussianMixture model(GaussianMixtureOptions(2, 3));
  try {
    initialize_gmm(model, torch::zeros({2, 2}, kDouble), GmmInit::kKmeansPlusPlus, 0);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("2 data points for 3 components"), std::string::npos) << e.what();
  }
  auto x = torch::randn({10, 2}, kDouble);
  x[4][1] = NAN;
  try {
    fit_em(model, x);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("data row 4 holds a non-finite value"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(fit_em(model, torch::zeros({10, 3}, kDouble)), std::invalid_argument);
}

TEST(GmmEm, KmeansPlusPlusAndLloydFindSeparatedClusters) {
  torch::manual_seed(11);
  const auto centres = torch::tensor({{0.0, 0.0}, {10.0, 0.0}, {0.0, 10.0}, {10.0, 10.0}}, kDouble);
  const auto labels = torch::arange(4, torch::kLong).repeat({50});
  const auto x = centres.index_select(0, labels) + 0.5 * torch::randn({200, 2}, kDouble);
  at::Generator g1 = at::make_generator<at::CPUGeneratorImpl>(5);
  at::Generator g2 = at::make_generator<at::CPUGeneratorImpl>(5);
  const auto seeds = kmeans_plus_plus(x, 4, g1);
  EXPECT_TRUE(torch::equal(seeds, kmeans_plus_plus(x, 4, g2)));  // deterministic given the seed
  for (int64_t k = 0; k < 4; ++k) {
    // Every seed is a data point.
    EXPECT_EQ(((x - seeds[k]).abs().sum(1) == 0).sum().item<int64_t>(), 1);
  }
  const auto result = kmeans(x, seeds);
  // Same partition as the truth: each found cluster holds exactly one true label.
  for (int64_t k = 0; k < 4; ++k) {
    const auto members = labels.masked_select(result.labels == k);
    ASSERT_EQ(members.numel(), 50);
    EXPECT_TRUE((members == members[0]).all().item<bool>());
  }
}

// Exact mean and standard deviation of the k-means++ potential Σ_n min_k |x_n − c_k|² for K = 2
// with `trials` candidates: the first centre i is uniform; candidates j are iid with probability
// w_j = d_ij / Σ_l d_il; the potential is the least P_ij over the candidates, so
// Pr(potential >= v) = (Σ_{j: P_ij >= v} w_j)^trials.
std::pair<double, double> exact_two_centre_potential(const std::vector<double>& x, int trials) {
  const size_t n = x.size();
  const auto d2 = [&](size_t a, size_t b) { return (x[a] - x[b]) * (x[a] - x[b]); };
  double mean = 0;
  double second = 0;
  for (size_t i = 0; i < n; ++i) {
    double total = 0;
    for (size_t l = 0; l < n; ++l) total += d2(l, i);
    std::vector<double> potential(n);
    for (size_t j = 0; j < n; ++j)
      for (size_t l = 0; l < n; ++l) potential[j] += std::min(d2(l, i), d2(l, j));
    const auto mass_at_least = [&](double v, bool strict) {
      double mass = 0;
      for (size_t j = 0; j < n; ++j)
        if (strict ? potential[j] > v : potential[j] >= v) mass += d2(i, j) / total;
      return std::pow(mass, trials);
    };
    std::vector<double> values;
    for (size_t j = 0; j < n; ++j)
      if (d2(i, j) > 0) values.push_back(potential[j]);
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    for (const double v : values) {
      const double p = (mass_at_least(v, false) - mass_at_least(v, true)) / static_cast<double>(n);
      mean += v * p;
      second += v * v * p;
    }
  }
  return {mean, std::sqrt(second - mean * mean)};
}

TEST(GmmEm, GreedyKmeansPlusPlusMatchesItsExactPotentialAndBeatsPlainSeeding) {
  // Two tight clusters and an outlier: plain k-means++ often spends the second centre on the
  // outlier; the best of 2 candidates less often.
  const std::vector<double> line = {0, 0.1, 0.2, 5, 5.1, 20};
  const auto x = torch::stack({torch::tensor(line, kDouble), torch::zeros({6}, kDouble)}, 1);  // [6, 2]
  constexpr int kSeeds = 1000;
  std::vector<double> sample_mean;
  for (const int trials : {1, 2}) {
    double sum = 0;
    for (int seed = 0; seed < kSeeds; ++seed) {
      at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
      const auto centres = kmeans_plus_plus(x, 2, g, trials);
      sum += (x.unsqueeze(1) - centres.unsqueeze(0)).pow(2).sum(-1).amin(1).sum().item<double>();
      if (trials == 2) {
        // The default for K = 2 is 2 + ⌊ln 2⌋ = 2 candidates: the same draws, the same centres.
        at::Generator again = at::make_generator<at::CPUGeneratorImpl>(seed);
        ASSERT_TRUE(torch::equal(centres, kmeans_plus_plus(x, 2, again)));
      }
    }
    const auto [mean, sd] = exact_two_centre_potential(line, trials);
    sample_mean.push_back(sum / kSeeds);
    // Within 4 standard errors of the exact expectation (80.34 plain, 61.56 greedy).
    EXPECT_NEAR(sample_mean.back(), mean, 4 * sd / std::sqrt(double{kSeeds})) << trials << " trials";
  }
  EXPECT_LT(exact_two_centre_potential(line, 2).first, exact_two_centre_potential(line, 1).first - 15);
  EXPECT_LT(sample_mean[1], sample_mean[0]);
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(0);
  EXPECT_THROW(kmeans_plus_plus(x, 2, g, -1), std::invalid_argument);
}

TEST(GaussianMixture, BicCountsFreeParameters) {
  torch::manual_seed(12);
  const auto x = torch::randn({30, 3}, kDouble);
  const std::vector<int64_t> expected = {2 + 9 + 18, 2 + 9 + 9, 2 + 9 + 3};  // full, diag, spherical
  for (size_t i = 0; i < kTypes.size(); ++i) {
    auto model = make_truth(kTypes[i]);
    EXPECT_EQ(model.num_free_parameters(), expected[i]);
    const double total = model.exact_log_marginal(x)->sum().item<double>();
    EXPECT_NEAR(bic(model, x), -2 * total + static_cast<double>(expected[i]) * std::log(30.0), 1e-9);
  }
}

}  // namespace
}  // namespace lvm
