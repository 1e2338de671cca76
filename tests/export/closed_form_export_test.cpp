// TorchScript export of the models with a closed-form log p(x): the Gaussian mixture, for every
// covariance type (log_prob against the exact log p(x), responsibilities, hard assignments,
// draws under the same seed, the attributes, bad input), and the linear-Gaussian model
// (probabilistic PCA: log_prob, the exact posterior, draws).

#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "lvm/export/torchscript.h"
#include "lvm/models/gmm/gaussian_mixture.h"
#include "lvm/models/linear_gaussian/linear_gaussian.h"
#include "tests/testing.h"

namespace lvm::torchscript {
namespace {

constexpr int64_t kDim = 3, kComponents = 4;

// A mixture with distinct weights, means and covariances drawn from a seed.
std::shared_ptr<GaussianMixture> make_mixture(CovarianceType type) {
  torch::manual_seed(7);
  auto model = std::make_shared<GaussianMixture>(
      GaussianMixtureOptions(kDim, kComponents).covariance(type).reg_covar(1e-3));
  const auto opts = torch::TensorOptions().dtype(torch::kDouble);
  const auto weights = torch::tensor({0.1, 0.2, 0.3, 0.4}, opts);
  const auto means = torch::randn({kComponents, kDim}, opts) * 2;
  torch::Tensor covariances;
  if (type == CovarianceType::kFull) {
    const auto a = torch::randn({kComponents, kDim, kDim}, opts);
    covariances = torch::matmul(a, a.transpose(-1, -2)) + 0.5 * torch::eye(kDim, opts);
  } else if (type == CovarianceType::kDiag) {
    covariances = torch::rand({kComponents, kDim}, opts) + 0.2;
  } else {
    covariances = torch::rand({kComponents}, opts) + 0.2;
  }
  model->set_parameters(weights, means, covariances);
  return model;
}

ExportMetadata vector_metadata() {
  ExportMetadata m;
  m.input_shape = {kDim};
  m.config_yaml = "model:\n  type: gmm\n";
  m.epoch = 12;
  return m;
}

torch::Tensor call(torch::jit::Module& m, const std::string& method, std::vector<c10::IValue> args) {
  return m.get_method(method)(std::move(args)).toTensor();
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  EXPECT_TRUE(torch::allclose(actual, expected, 1e-9, 1e-12))
      << what << ": max abs difference " << (actual - expected).abs().max().item<double>();
}

const std::vector<CovarianceType> kTypes = {CovarianceType::kFull, CovarianceType::kDiag,
                                            CovarianceType::kSpherical};

TEST(GmmExport, EveryMethodMatchesTheNativeMixture) {
  for (const auto type : kTypes) {
    SCOPED_TRACE(to_string(type));
    testing::TempDir dir;
    auto model = make_mixture(type);
    save_module(*model, vector_metadata(), dir.file("gmm.pt"));
    auto m = torch::jit::load(dir.file("gmm.pt"));
    torch::NoGradGuard no_grad;
    torch::manual_seed(3);
    const auto x = torch::randn({50, kDim}, torch::kDouble) * 3;

    // The exact log p(x) = log Σ_k π_k N(x; μ_k, Σ_k), as a float64 module.
    expect_close(call(m, "log_prob", {x}), *model->exact_log_marginal(x), "log_prob");
    expect_close(m.forward({x}).toTensor(), *model->exact_log_marginal(x), "forward");
    expect_close(call(m, "component_log_prob", {x}), model->component_log_prob(x), "component_log_prob");
    const auto r = call(m, "responsibilities", {x});
    expect_close(r, model->responsibilities(x), "responsibilities");
    expect_close(r.sum(1), torch::ones({50}, torch::kDouble), "responsibilities sum to one");
    EXPECT_TRUE(torch::equal(call(m, "predict", {x}), model->predict(x)));
    // float32 input (e.g. from a float numpy array) is cast to the weights' float64.
    expect_close(call(m, "log_prob", {x.to(torch::kFloat)}),
                 *model->exact_log_marginal(x.to(torch::kFloat).to(torch::kDouble)), "log_prob of float32 x");

    // Draws under the same seed are the native model's draws.
    torch::manual_seed(11);
    const auto native = model->sample(40);
    torch::manual_seed(11);
    expect_close(call(m, "sample", {int64_t{40}}), native, "sample");
    torch::manual_seed(12);
    const auto native_z = model->prior()->sample({40});
    torch::manual_seed(12);
    EXPECT_TRUE(torch::equal(call(m, "sample_latent", {int64_t{40}}), native_z));
    EXPECT_EQ(call(m, "sample", {int64_t{0}}).sizes(), (std::vector<int64_t>{0, kDim}));

    EXPECT_EQ(m.attr("model_kind").toStringRef(), "gmm");
    EXPECT_EQ(m.attr("covariance").toStringRef(), to_string(type));
    EXPECT_EQ(m.attr("components").toInt(), kComponents);
    EXPECT_EQ(m.attr("latent_dim").toInt(), kComponents);
    EXPECT_EQ(m.attr("data_dim").toInt(), kDim);
    EXPECT_EQ(m.attr("epoch").toInt(), 12);
    EXPECT_EQ(m.attr("input_shape").toIntVector(), (std::vector<int64_t>{kDim}));
    for (const auto& name : exported_methods(*model)) EXPECT_TRUE(m.find_method(name).has_value()) << name;
  }
}

TEST(GmmExport, ManyDrawsHaveTheMixturesMoments) {
  // Independent of the native sampler: the draws' mean is Σ_k π_k μ_k within 5 standard errors.
  testing::TempDir dir;
  auto model = make_mixture(CovarianceType::kFull);
  save_module(*model, vector_metadata(), dir.file("gmm.pt"));
  auto m = torch::jit::load(dir.file("gmm.pt"));
  torch::manual_seed(5);
  const int64_t n = 200000;
  const auto draws = call(m, "sample", {n});
  torch::NoGradGuard no_grad;
  const auto mean = torch::matmul(model->weights(), model->means());  // [D]
  const auto std_error = draws.std(0) / std::sqrt(static_cast<double>(n));
  EXPECT_TRUE(((draws.mean(0) - mean).abs() < 5 * std_error).all().item<bool>())
      << draws.mean(0) << mean << std_error;
}

TEST(GmmExport, BadInputIsAClearError) {
  testing::TempDir dir;
  auto model = make_mixture(CovarianceType::kDiag);
  save_module(*model, vector_metadata(), dir.file("gmm.pt"));
  auto m = torch::jit::load(dir.file("gmm.pt"));
  const auto error_of = [&](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "(no exception)";
  };
  EXPECT_NE(error_of([&] {
              call(m, "log_prob", {torch::zeros({2, 5})});
            }).find("expected x of shape [B, 3] or [B, *input_shape], got [2, 5]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { call(m, "sample", {int64_t{-2}}); }).find("expected n >= 0, got -2"),
            std::string::npos);
}

TEST(LinearGaussianExport, LogProbPosteriorAndDrawsMatchTheClosedForms) {
  testing::TempDir dir;
  torch::manual_seed(8);
  const auto opts = torch::TensorOptions().dtype(torch::kDouble);
  LinearGaussian model(torch::randn({5, 2}, opts), torch::randn({5}, opts), 0.7);
  ExportMetadata metadata;
  metadata.input_shape = {5};
  save_module(model, metadata, dir.file("ppca.pt"));
  auto m = torch::jit::load(dir.file("ppca.pt"));
  EXPECT_EQ(m.attr("model_kind").toStringRef(), "linear_gaussian");
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({30, 5}, opts) * 2;
  expect_close(call(m, "log_prob", {x}), *model.exact_log_marginal(x), "log_prob");
  // The posterior's mean and covariance from the method against the closed form computed here:
  // Σ = (I + WᵀW/σ²)⁻¹, mean = Σ Wᵀ (x − b) / σ².
  const auto w = model.weight(), var = model.noise_variance();
  const auto sigma = torch::inverse(torch::eye(2, opts) + torch::matmul(w.t(), w) / var);
  const auto expected_mean = torch::matmul(torch::matmul(sigma, w.t()), (x - model.bias()).t()).t() / var;
  const auto tuple = m.get_method("encode")({x}).toTuple();
  expect_close(tuple->elements()[0].toTensor(), expected_mean, "encode mean");
  const auto factor = tuple->elements()[1].toTensor();
  expect_close(torch::matmul(factor, factor.t()), sigma, "encode covariance");
  torch::manual_seed(3);
  const auto native = model.sample(20);
  torch::manual_seed(3);
  expect_close(call(m, "sample", {int64_t{20}}), native, "sample");
}

}  // namespace
}  // namespace lvm::torchscript
