// Estimators of log p(x) on the linear-Gaussian model (double precision), whose log p(x) and
// posterior are known in closed form.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include "lvm/distributions/multivariate_normal.h"
#include "lvm/distributions/normal.h"
#include "lvm/estimators/estimators.h"
#include "lvm/models/linear_gaussian/linear_gaussian.h"
#include "lvm/models/vae/vae.h"
#include "lvm/runtime/runtime.h"

namespace lvm::estimators {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

struct Fixture {
  torch::Tensor w = torch::tensor({{1.0, 0.5}, {-0.3, 0.8}, {0.2, -1.1}, {0.6, 0.1}}, kDouble);
  torch::Tensor b = torch::tensor({0.1, -0.2, 0.3, 0.0}, kDouble);
  double sigma = 0.7;
  torch::Tensor x =
      torch::tensor({{0.5, -0.4, 1.2, 0.3}, {-1.0, 0.3, 0.0, -0.5}, {1.5, 1.0, -1.0, 0.8}}, kDouble);
  LinearGaussian model{w, b, sigma};
  torch::Tensor exact_log_px() { return *model.exact_log_marginal(x); }
  /// The diagonal Gaussian with the posterior's mean and marginal variances: a good proposal.
  Normal diagonal_posterior(double mean_shift = 0.0) {
    const auto post = model.posterior(x);
    const auto var = torch::diagonal(post.covariance(), 0, -2, -1).expand_as(post.mean());
    return Normal(post.mean() + mean_shift, torch::log(var));
  }
};

// KL(N(m1, S1) || N(m2, S2)) for full covariances.
torch::Tensor gaussian_kl(const torch::Tensor& m1, const torch::Tensor& s1, const torch::Tensor& m2,
                          const torch::Tensor& s2) {
  const auto s2_inv = torch::inverse(s2);
  const auto d = (m2 - m1).unsqueeze(-1);
  return 0.5 * (torch::diagonal(torch::matmul(s2_inv, s1), 0, -2, -1).sum(-1) +
                torch::matmul(d.transpose(-1, -2), torch::matmul(s2_inv, d)).squeeze(-1).squeeze(-1) -
                static_cast<double>(m1.size(-1)) + torch::logdet(s2) - torch::logdet(s1));
}

// A proposal that replays a fixed list of draws, handing out the next `shape[0]` of them per call:
// chunked and unchunked evaluations then see exactly the same z.
class ReplayProposal : public Distribution {
 public:
  ReplayProposal(Normal q, torch::Tensor draws) : q_(std::move(q)), draws_(std::move(draws)) {}
  torch::Tensor sample(at::IntArrayRef shape) const override {
    const auto out = draws_.slice(0, next_, next_ + shape[0]);
    next_ += shape[0];
    return out;
  }
  torch::Tensor log_prob(const torch::Tensor& value) const override { return q_.log_prob(value); }
  std::shared_ptr<Distribution> detached() const override { return nullptr; }
  torch::Tensor mean() const override { return q_.mean(); }
  void rewind() { next_ = 0; }

 private:
  Normal q_;
  torch::Tensor draws_;
  mutable int64_t next_ = 0;
};

TEST(ImportanceSampling, ExactPosteriorProposalGivesExactLogMarginalForEveryK) {
  // With q = p(z|x) every weight equals p(x): zero variance, and ESS = K.
  torch::manual_seed(0);
  Fixture f;
  for (int64_t k : {1, 10, 1000}) {
    const auto estimate = importance_sampling(f.model, f.x, SamplingOptions(k, 7));
    EXPECT_TRUE(torch::allclose(estimate.log_px, f.exact_log_px(), 0, 1e-9)) << "k=" << k;
    EXPECT_TRUE(torch::allclose(estimate.ess, torch::full({3}, static_cast<double>(k), kDouble), 1e-9, 0))
        << "k=" << k << ": " << estimate.ess;
  }
}

TEST(ImportanceSampling, BoundRisesWithKAndConvergesToTheExactValue) {
  torch::manual_seed(1);
  Fixture f;
  const auto q = f.diagonal_posterior(0.5);  // mean off by 0.5 (about one posterior sd): a loose bound
  const double exact = f.exact_log_px().mean().item<double>();
  const int replicates = 1000;
  double previous = -INFINITY, previous_se = 0;
  for (int64_t k : {1, 10, 100, 1000}) {
    std::vector<double> values;
    for (int r = 0; r < replicates; ++r)
      values.push_back(
          importance_sampling(f.model, f.x, q, SamplingOptions(k, 250)).log_px.mean().item<double>());
    const auto v = torch::tensor(values, kDouble);
    const double mean = v.mean().item<double>();
    const double se = v.std().item<double>() / std::sqrt(static_cast<double>(replicates));
    // E[L_K] rises with K (Burda et al. Thm 1): each step by more than three standard errors of the
    // difference, and never above log p(x) beyond the Monte Carlo error.
    EXPECT_GT(mean - previous, 3 * std::hypot(se, previous_se)) << "k=" << k;
    EXPECT_LT(mean, exact + 4 * se) << "k=" << k;
    previous = mean;
    previous_se = se;
  }
  // The gap at K = 1 is about 1.2 nats; at K = 1000 it has shrunk below 0.02.
  EXPECT_LT(exact - previous, 0.02);
}

TEST(PriorSampling, ConvergesButSpreadsMoreThanImportanceSampling) {
  torch::manual_seed(2);
  Fixture f;
  const auto q = f.diagonal_posterior();
  const int replicates = 200;
  const int64_t k = 100;
  std::vector<torch::Tensor> prior_runs, is_runs;
  for (int r = 0; r < replicates; ++r) {
    prior_runs.push_back(prior_sampling(f.model, f.x, SamplingOptions(k)).log_px);
    is_runs.push_back(importance_sampling(f.model, f.x, q, SamplingOptions(k)).log_px);
  }
  const auto prior_sd = torch::stack(prior_runs).std(0);
  const auto is_sd = torch::stack(is_runs).std(0);
  // Measured here: prior sampling spreads 30-50 times more than the near-posterior proposal.
  EXPECT_TRUE((prior_sd > 5 * is_sd).all().item<bool>()) << prior_sd << is_sd;

  // Consistent: with 1000 times more samples the spread shrinks by sqrt(1000); five such standard
  // deviations bound the distance to log p(x) (the bias, ~var/2K, is smaller still).
  const int64_t big_k = 100000;
  const auto estimate = prior_sampling(f.model, f.x, SamplingOptions(big_k, 10000));
  const auto tolerance = 5 * prior_sd * std::sqrt(static_cast<double>(k) / static_cast<double>(big_k));
  EXPECT_TRUE(((estimate.log_px - f.exact_log_px()).abs() < tolerance).all().item<bool>())
      << estimate.log_px << f.exact_log_px() << tolerance;
  EXPECT_TRUE((estimate.ess >= 1).all().item<bool>() && (estimate.ess <= big_k).all().item<bool>());
}

TEST(Elbo, EqualsLogMarginalMinusKlToThePosterior) {
  torch::manual_seed(3);
  Fixture f;
  const auto q = f.diagonal_posterior(0.3);
  const int64_t k = 100000;
  const auto estimate = elbo(f.model, f.x, q, SamplingOptions(k, 10000));
  const auto post = f.model.posterior(f.x);
  const auto kl_post =
      gaussian_kl(q.mean(), torch::diag_embed(torch::exp(q.log_var())), post.mean(), post.covariance());
  const auto expected = f.exact_log_px() - kl_post;
  // Only the reconstruction term is sampled (the KL is analytic): its standard error is
  // sd(log p(x|z)) / sqrt(K), with the sd measured on fresh draws.
  torch::NoGradGuard no_grad;
  const auto sd = f.model.log_likelihood(f.x, q.sample({2000})).std(0);
  const auto tolerance = 5 * sd / std::sqrt(static_cast<double>(k));
  EXPECT_TRUE(((estimate.log_px - expected).abs() < tolerance).all().item<bool>())
      << estimate.log_px << expected << tolerance;
  EXPECT_TRUE(torch::allclose(estimate.log_px, estimate.rec - estimate.kl, 0, 1e-12));
  EXPECT_TRUE(torch::allclose(
      estimate.kl, 0.5 * (torch::exp(q.log_var()) + q.mean().square() - 1 - q.log_var()).sum(-1), 0, 1e-12));
  EXPECT_FALSE(estimate.ess.defined());
}

TEST(Elbo, FallsBackToAMonteCarloKlWithoutAClosedForm) {
  // The exact posterior is a full-covariance Gaussian: no analytic KL to the prior here, so the
  // Monte Carlo KL over the same samples is used, and with q = p(z|x) the ELBO is log p(x) exactly.
  torch::manual_seed(4);
  Fixture f;
  const auto estimate = elbo(f.model, f.x, SamplingOptions(50, 8));
  EXPECT_TRUE(torch::allclose(estimate.log_px, f.exact_log_px(), 0, 1e-9));
}

TEST(ImportanceSampling, ChunkedAndUnchunkedAgreeOnTheSameDraws) {
  torch::manual_seed(5);
  Fixture f;
  const auto q = f.diagonal_posterior(0.4);
  const int64_t k = 103;
  ReplayProposal replay(q, q.sample({k}));
  const auto whole = importance_sampling(f.model, f.x, replay, SamplingOptions(k, 0));
  for (int64_t chunk : {1, 7, 50, 103, 500}) {
    replay.rewind();
    const auto chunked = importance_sampling(f.model, f.x, replay, SamplingOptions(k, chunk));
    EXPECT_TRUE(torch::allclose(chunked.log_px, whole.log_px, 0, 1e-12)) << "chunk " << chunk;
    EXPECT_TRUE(torch::allclose(chunked.ess, whole.ess, 1e-12, 0)) << "chunk " << chunk;
    EXPECT_TRUE(torch::allclose(chunked.rec, whole.rec, 0, 1e-12)) << "chunk " << chunk;
  }
  // And the unchunked value is the plain formula on the full [K, B] log-weights.
  replay.rewind();
  const auto z = replay.sample({k});
  const auto log_w = f.model.log_joint(f.x, z) - q.log_prob(z);
  EXPECT_TRUE(
      torch::allclose(whole.log_px, torch::logsumexp(log_w, 0) - std::log(static_cast<double>(k)), 0, 1e-12));
  EXPECT_TRUE(torch::allclose(whole.mean_log_weight, log_w.mean(0), 0, 1e-12));
}

// On CPU each chunk's samples are split over the cores, one single-threaded BLAS worker each: the
// draws are the same, so the estimates are those of one call up to float rounding, and the thread
// split comes back. (A sample's logits may round differently in the last bit when its row falls
// elsewhere in OpenBLAS's blocking: up to ~6e-8 x |log p(x|z)| ≈ 4e-5 nats per log-weight here.
// log p(x) moves by at most that, ~1e-7 relative; the ESS by at most twice that in relative terms.)
// A VAE that records the calls of its log-likelihood: thread, slice size, LibTorch threads.
class RecordingVae : public Vae {
 public:
  using Vae::Vae;
  torch::Tensor log_likelihood(const torch::Tensor& x, const torch::Tensor& z) override {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      threads_.insert(std::this_thread::get_id());
      slices_.push_back(z.size(0));
      torch_threads_.insert(torch::get_num_threads());
    }
    return Vae::log_likelihood(x, z);
  }
  void clear() {
    threads_.clear();
    slices_.clear();
    torch_threads_.clear();
  }
  std::set<std::thread::id> threads_;
  std::vector<int64_t> slices_;
  std::set<int> torch_threads_;

 private:
  std::mutex mutex_;
};

TEST(ImportanceSampling, SplittingChunksOverWorkersChangesNothing) {
  torch::manual_seed(1);
  RecordingVae vae(VaeOptions(784, 8).encoder_hidden({64}).decoder_hidden({64, 32}).activation("tanh"));
  vae.eval();
  const auto original = runtime::current_split();
  const auto x = torch::bernoulli(torch::full({6, 784}, 0.2));
  const auto estimate = [&](int threads) {
    const auto set = runtime::configure_threads(0, threads, threads);
    vae.clear();
    torch::manual_seed(9);
    auto result = importance_sampling(vae, x, SamplingOptions(700, 300));
    const auto after = runtime::current_split();
    EXPECT_EQ(after.torch_threads, set.torch_threads);
    if (runtime::blas_info().library == "OpenBLAS") {
      EXPECT_EQ(after.blas_threads, set.blas_threads);
    }
    return result;
  };
  const auto one = estimate(1);
  EXPECT_EQ(vae.slices_, (std::vector<int64_t>{300, 300, 100}));
  for (int workers : {2, 3}) {
    const auto split = estimate(workers);
    // Chunks of 300 samples x 6 examples split into slices of >= 512 rows (3 at most), each on its
    // own thread with one LibTorch thread; the last chunk (100 x 6 rows) stays one call, with the
    // process's threads. (Thread ids of joined threads may be reused: at least `pieces` of them.)
    const int64_t pieces = std::min(workers, 3);
    EXPECT_GE(vae.threads_.size(), static_cast<size_t>(pieces)) << workers << " workers";
    EXPECT_EQ(vae.slices_.size(), static_cast<size_t>(2 * pieces + 1)) << workers << " workers";
    EXPECT_EQ(std::accumulate(vae.slices_.begin(), vae.slices_.end(), int64_t{0}), 700);
    EXPECT_EQ(vae.torch_threads_, (std::set<int>{1, workers}));
    EXPECT_TRUE(torch::allclose(split.log_px, one.log_px, 1e-7, 0))
        << workers << " workers: " << (split.log_px - one.log_px);
    EXPECT_TRUE(torch::allclose(split.rec, one.rec, 1e-7, 0)) << workers << " workers";
    EXPECT_TRUE(torch::allclose(split.ess, one.ess, 1e-4, 0))
        << workers << " workers: " << split.ess << one.ess;
    EXPECT_GT(one.log_px.abs().min().item<double>(), 100);  // the scale the tolerance is relative to
  }
  // An explicit workers(1) is one call per chunk whatever the split.
  runtime::configure_threads(0, 2, 2);
  vae.clear();
  importance_sampling(vae, x, SamplingOptions(700, 300).workers(1));
  EXPECT_EQ(vae.threads_.size(), 1u);
  EXPECT_EQ(vae.slices_.size(), 3u);
  runtime::configure_threads(0, original.torch_threads, original.blas_threads);
}

TEST(Exact, ReturnsTheClosedFormAndRefusesModelsWithout) {
  Fixture f;
  EXPECT_TRUE(torch::allclose(exact(f.model, f.x).log_px, f.exact_log_px(), 0, 0));
  Vae vae(VaeOptions(4, 2).encoder_hidden({3}).decoder_hidden({3}));
  try {
    exact(vae, torch::zeros({2, 4}));
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("model 'vae' has no closed-form log p(x)"), std::string::npos)
        << e.what();
  }
}

TEST(Estimators, RejectBadArguments) {
  Fixture f;
  const auto message = [](const std::function<void()>& fn) -> std::string {
    try {
      fn();
    } catch (const c10::Error& e) {
      return e.what_without_backtrace();
    }
    return "(no error)";
  };
  EXPECT_NE(
      message([&] { importance_sampling(f.model, f.x, SamplingOptions(0)); }).find("k must be >= 1, got 0"),
      std::string::npos);
  EXPECT_NE(message([&] { prior_sampling(f.model, f.x, SamplingOptions(5, -1)); }).find("chunk must be >= 0"),
            std::string::npos);
  EXPECT_NE(message([&] {
              prior_sampling(f.model, torch::zeros({2, 3}, kDouble), SamplingOptions(5));
            }).find("expected x of shape [B, 4], got [2, 3]"),
            std::string::npos);
}

// A model whose proposal mean is a known linear function of x: dimension i has mean s_i x_i.
class ScaledIdentityProposal : public LinearGaussian {
 public:
  ScaledIdentityProposal(torch::Tensor scales)
      : LinearGaussian(torch::zeros({4, 4}, kDouble), torch::zeros({4}, kDouble), 1.0),
        scales_(std::move(scales)) {}
  std::shared_ptr<Distribution> proposal(const torch::Tensor& x) override {
    return std::make_shared<Normal>(x * scales_, torch::zeros_like(x));
  }

 private:
  torch::Tensor scales_;
};

TEST(ActiveUnits, CountsDimensionsWhosePosteriorMeanVariesAcrossExamples) {
  // x columns of ±1 in equal numbers have variance exactly 1, so Var_x(s_i x_i) = s_i².
  ScaledIdentityProposal model(torch::tensor({1.0, 0.05, 0.2, 0.0}, kDouble));
  const auto signs = torch::tensor({1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0}, kDouble);
  const auto x = torch::stack({signs, signs.flip(0), signs.roll(1), signs.roll(2)}, 1);  // [8, 4]
  for (int64_t batch : {3, 8}) {
    const auto units = active_units(model, x, batch);
    EXPECT_TRUE(torch::allclose(units.variance, torch::tensor({1.0, 0.0025, 0.04, 0.0}, kDouble), 0, 1e-12))
        << units.variance;
    EXPECT_EQ(units.count, 2);  // 0.0025 and 0 fall under the 0.01 threshold
  }
  EXPECT_EQ(active_units(model, x, 4, 0.001).count, 3);
}

TEST(Summarize, MeanAndStandardError) {
  const auto s = summarize(torch::tensor({1.0, 2.0, 3.0, 6.0}, kDouble));
  EXPECT_EQ(s.n, 4);
  EXPECT_DOUBLE_EQ(s.mean, 3.0);
  EXPECT_NEAR(s.std_error, std::sqrt(14.0 / 3.0) / 2.0, 1e-12);
  EXPECT_EQ(summarize(torch::tensor({5.0}, kDouble)).std_error, 0.0);
}

}  // namespace
}  // namespace lvm::estimators
