// Where the time of a Gaussian-mixture EM fit goes: k-means++ seeding, Lloyd's k-means, and the
// EM steps (E-step + M-step), on N points in D dimensions drawn from a random K-component mixture.
//   build/bench/gmm_em_speed [N=100000] [D=2] [K=16] [covariance=full] [steps=20] [torch_threads=0]
// Prints one line per phase; the EM loop runs a fixed number of steps (tol 0) so that runs compare.

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/models/gmm/gaussian_mixture.h"
#include "lvm/models/gmm/gmm_em.h"
#include "lvm/runtime/runtime.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

int main(int argc, char** argv) {
  lvm::runtime::ensure_blas_environment(argc, argv);
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 100000;
  const int64_t d = argc > 2 ? std::atoll(argv[2]) : 2;
  const int64_t k = argc > 3 ? std::atoll(argv[3]) : 16;
  const std::string covariance = argc > 4 ? argv[4] : "full";
  const int64_t steps = argc > 5 ? std::atoll(argv[5]) : 20;
  const int64_t torch_threads = argc > 6 ? std::atoll(argv[6]) : 0;
  const auto threads = lvm::runtime::configure_threads(0, torch_threads, 0);

  // Data from a random mixture: means in [-10, 10]^D, covariances A Aᵀ·0.36 + 0.2 I.
  torch::manual_seed(1234);
  const auto options = torch::TensorOptions().dtype(torch::kDouble);
  lvm::GaussianMixture truth(lvm::GaussianMixtureOptions(d, k));
  const auto a = torch::randn({k, d, d}, options) * 0.6;
  truth.set_parameters(torch::rand({k}, options) + 0.5, torch::rand({k, d}, options) * 20 - 10,
                       torch::matmul(a, a.transpose(1, 2)) + 0.2 * torch::eye(d, options));
  const auto x = truth.sample(n);

  lvm::GaussianMixture model(
      lvm::GaussianMixtureOptions(d, k).covariance(lvm::parse_covariance_type(covariance)).reg_covar(1e-6));
  std::cout << fmt::format("gmm EM speed: N {} D {} K {} {} covariances; {} torch + {} BLAS threads\n", n, d,
                           k, covariance, threads.torch_threads, threads.blas_threads);

  auto start = Clock::now();
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(0);
  const auto seeds = lvm::kmeans_plus_plus(x, k, generator);
  const double seeding = since(start);
  start = Clock::now();
  const auto clusters = lvm::kmeans(x, seeds);
  const double lloyd = since(start);
  start = Clock::now();
  lvm::initialize_gmm(model, x, lvm::GmmInit::kKmeansPlusPlus, 0);
  const double init = since(start);
  std::cout << fmt::format("k-means++ seeding      {:8.3f} s\n", seeding);
  std::cout << fmt::format("Lloyd's k-means        {:8.3f} s ({} iterations)\n", lloyd, clusters.iterations);
  std::cout << fmt::format("whole initialisation   {:8.3f} s (seeding + Lloyd + one M-step)\n", init);

  lvm::EmOptions em;
  em.max_steps = steps;
  em.tol = 0;
  start = Clock::now();
  const auto result = lvm::fit_em(model, x, em);
  const double fit = since(start);
  std::cout << fmt::format("EM                     {:8.3f} s for {} steps: {:.1f} ms per step\n", fit,
                           result.steps, 1000 * fit / static_cast<double>(result.steps));
  std::cout << fmt::format("mean log-likelihood    {:.6f} (truth's {:.6f})\n", result.mean_log_likelihood,
                           lvm::mean_log_likelihood(truth, x));
  return 0;
}
