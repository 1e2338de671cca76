// Importance-sampled evaluation throughput: decoder evaluations per second (one z sample through
// the decoder for one image), against the matrix-product bound, for the fused evaluation path and
// the plain one, with the projected time of the full protocol (k = 5000 on 10,000 test images).
//
//   build/bench/eval_throughput [--arch classic|default] [--k 5000] [--n 200] [--batch 100]
//                               [--chunk 0] [--threads 0] [--data DIR] [--skip-plain] [--skip-one-worker]
//                               [--rounds 3]
// "fused" is lvm's estimator as `lvm eval` runs it (each chunk's samples split over the cores, one
// single-threaded BLAS worker per core); "fused-1" the same in one call per chunk, multithreaded
// BLAS (what the split gains); "plain" a straightforward LibTorch estimator (the baseline).
// classic: 784-400-20 ReLU (configs/vae_mnist_classic.yaml); default: 784-200-200-50 tanh
// (configs/vae_mnist.yaml). Random weights (the cost does not depend on them); images are the first
// n of MNIST's test set binarised when --data is given, else random binary images of MNIST's density.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/config/config.h"
#include "lvm/data/dataset.h"
#include "lvm/estimators/estimators.h"
#include "lvm/estimators/streaming_log_sum_exp.h"
#include "lvm/models/vae/vae.h"
#include "lvm/runtime/runtime.h"

namespace {

struct Args {
  std::string arch = "classic";
  int64_t k = 5000, n = 200, batch = 100, chunk = 0, threads = 0, rounds = 3;
  std::string data;
  bool plain = true;
  bool one_worker = true;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(key + " needs a value");
      return argv[++i];
    };
    if (key == "--arch")
      a.arch = value();
    else if (key == "--k")
      a.k = std::stoll(value());
    else if (key == "--n")
      a.n = std::stoll(value());
    else if (key == "--batch")
      a.batch = std::stoll(value());
    else if (key == "--chunk")
      a.chunk = std::stoll(value());
    else if (key == "--rounds")
      a.rounds = std::stoll(value());
    else if (key == "--threads")
      a.threads = std::stoll(value());
    else if (key == "--data")
      a.data = value();
    else if (key == "--skip-plain")
      a.plain = false;
    else if (key == "--skip-one-worker")
      a.one_worker = false;
    else
      throw std::invalid_argument("unknown argument " + key);
  }
  if (a.arch != "classic" && a.arch != "default") throw std::invalid_argument("--arch: classic or default");
  if (a.rounds < 1) throw std::invalid_argument("--rounds: at least 1");
  return a;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// The same estimator written with the plain Bernoulli log-probability of the full logits tensor,
// as a straightforward implementation would: the baseline the fused path is measured against.
torch::Tensor plain_importance_sampling(lvm::Vae& vae, const torch::Tensor& x, int64_t k, int64_t chunk) {
  torch::NoGradGuard no_grad;
  const auto q = vae.encode(x);
  const auto prior = vae.prior();
  lvm::estimators::StreamingLogSumExp lse;
  for (int64_t done = 0; done < k; done += chunk) {
    const int64_t c = std::min(chunk, k - done);
    const auto z = q.sample({c});
    const auto logits = vae.decoder()->forward(z);  // Bernoulli over [c, B, D]
    lse.add(logits->log_prob(x) + prior->log_prob(z) - q.log_prob(z));
  }
  return lse.log_mean_exp();
}

}  // namespace

int main(int argc, char** argv) {
  lvm::runtime::ensure_blas_environment(argc, argv);
  Args a;
  try {
    a = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "eval_throughput: " << e.what() << '\n';
    return 2;
  }
  const auto split = lvm::runtime::configure_threads(a.threads, 0);
  const auto blas = lvm::runtime::blas_info();
  torch::manual_seed(0);
  const bool classic = a.arch == "classic";
  const std::vector<int64_t> hidden = classic ? std::vector<int64_t>{400} : std::vector<int64_t>{200, 200};
  const int64_t latent = classic ? 20 : 50;
  lvm::Vae vae(lvm::VaeOptions(784, latent)
                   .encoder_hidden(hidden)
                   .decoder_hidden(hidden)
                   .activation(classic ? "relu" : "tanh"));
  vae.eval();

  torch::Tensor images;
  if (!a.data.empty()) {
    lvm::config::DataConfig data;
    data.path = a.data;
    data.validation_size = 0;
    const auto dataset = lvm::data::load_image_dataset(data, torch::kCPU, 0);
    images = lvm::data::fixed_binarization(dataset.test.images.slice(0, 0, a.n), dataset.binarization,
                                           lvm::data::kTestBinarizationSeed);
  } else {
    images = torch::bernoulli(torch::full({a.n, 784}, 0.13));
  }
  const int64_t n = images.size(0);
  const int64_t batch = std::min(a.batch, n);
  const int64_t chunk = a.chunk > 0 ? a.chunk : std::max<int64_t>(1, std::min<int64_t>(a.k, 32768 / batch));

  // Decoder FLOPs per sample: 2 x (sum of the layers' in x out).
  double flops = 0;
  int64_t width = latent;
  for (int64_t h : hidden) {
    flops += 2.0 * static_cast<double>(width * h);
    width = h;
  }
  flops += 2.0 * static_cast<double>(width * 784);
  const double gflops = lvm::runtime::measure_sgemm_gflops();
  const double bound = gflops * 1e9 / flops;

  std::cout << fmt::format("machine    {} cores, {} ({}), {} torch + {} BLAS threads\n",
                           std::thread::hardware_concurrency(), blas.library, blas.core, split.torch_threads,
                           split.blas_threads);
  std::cout << fmt::format("model      784-{}-{} {} decoder, {:.0f} FLOPs per sample\n",
                           fmt::join(hidden, "-"), latent, classic ? "relu" : "tanh", flops);
  std::cout << fmt::format("workload   {} images ({}), k = {}, batch {}, chunk {}\n", n,
                           a.data.empty() ? "random binary" : "MNIST test, binarised", a.k, batch, chunk);
  std::cout << fmt::format("sgemm      {:.1f} GFLOP/s -> bound {:.0f} decoder evals/s\n", gflops, bound);

  {
    // Same z through both forms of log p(x|z): the fused one must agree to float rounding.
    torch::NoGradGuard no_grad;
    const auto x = images.slice(0, 0, std::min<int64_t>(batch, n));
    const auto z = vae.encode(x).sample({20});
    const auto fused = vae.log_likelihood(x, z).to(torch::kDouble);
    const auto plain = vae.decoder()->forward(z)->log_prob(x).to(torch::kDouble);
    std::cout << fmt::format(
        "agreement max |fused - plain| log p(x|z) = {:.2e} nats (|log p(x|z)| up to {:.0f})\n",
        (fused - plain).abs().max().item<double>(), plain.abs().max().item<double>());
  }
  // One pass over the images: decoder evaluations per second, and the mean estimate.
  const auto rate_of = [&](auto&& estimate) {
    estimate(images.slice(0, 0, std::min<int64_t>(batch, n)), std::min<int64_t>(a.k, chunk));  // warm-up
    const auto start = std::chrono::steady_clock::now();
    double mean = 0;
    for (int64_t b = 0; b < n; b += batch) {
      const auto x = images.slice(0, b, std::min(b + batch, n));
      mean += estimate(x, a.k).sum().template item<double>();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return std::make_pair(static_cast<double>(n) * static_cast<double>(a.k) / seconds,
                          mean / static_cast<double>(n));
  };
  // The decoder's matrix products alone, run as the fused estimator runs them (each chunk's rows
  // split over the cores, one single-threaded BLAS worker each; the last layer a block of 1024
  // rows at a time into a reused buffer), on fixed inputs: what is left once every elementwise
  // pass, the draws and the log-sum-exp cost nothing. The floor of this decoder at these shapes.
  const int workers = std::max(split.torch_threads, split.blas_threads);
  std::vector<torch::Tensor> weights;
  {
    int64_t in = latent;
    for (int64_t h : hidden) {
      weights.push_back(torch::randn({in, h}));
      in = h;
    }
    weights.push_back(torch::randn({in, 784}));
  }
  const auto products_only = [&](const torch::Tensor& x, int64_t k) {
    torch::NoGradGuard no_grad;
    const lvm::runtime::SingleThreadedPools single_threaded;
    const int64_t rows = chunk * x.size(0);
    const auto input = torch::randn({rows, latent});
    for (int64_t done = 0; done < k; done += chunk) {
      const int64_t chunk_rows = std::min(chunk, k - done) * x.size(0);
      lvm::runtime::run_workers(workers, [&](int w) {
        torch::NoGradGuard no_grad_here;
        auto h = input.slice(0, chunk_rows * w / workers, chunk_rows * (w + 1) / workers);
        for (size_t l = 0; l + 1 < weights.size(); ++l) h = torch::mm(h, weights[l]);
        auto buffer = torch::empty({std::min<int64_t>(1024, h.size(0)), 784});
        for (int64_t r = 0; r < h.size(0); r += 1024) {
          const int64_t n_rows = std::min<int64_t>(1024, h.size(0) - r);
          auto out = buffer.narrow(0, 0, n_rows);
          torch::mm_out(out, h.narrow(0, r, n_rows), weights.back());
        }
      });
    }
    return torch::zeros({x.size(0)});
  };
  struct Method {
    std::string name;
    std::function<torch::Tensor(const torch::Tensor&, int64_t)> estimate;
    std::vector<double> rates{}, shares{};
    double log_px = 0;
  };
  std::vector<Method> methods;
  methods.push_back({"fused", [&](const torch::Tensor& x, int64_t k) {
                       return lvm::estimators::importance_sampling(vae, x,
                                                                   lvm::estimators::SamplingOptions(k, chunk))
                           .log_px;
                     }});
  if (a.one_worker) {
    methods.push_back({"fused-1", [&](const torch::Tensor& x, int64_t k) {
                         return lvm::estimators::importance_sampling(
                                    vae, x, lvm::estimators::SamplingOptions(k, chunk).workers(1))
                             .log_px;
                       }});
  }
  if (a.plain) {
    methods.push_back({"plain", [&](const torch::Tensor& x, int64_t k) {
                         return plain_importance_sampling(vae, x, k, chunk);
                       }});
  }
  methods.push_back({"products", products_only});
  // Rounds interleave the methods, each round with its own sgemm rate, so drift hits all alike.
  for (int64_t round = 0; round < a.rounds; ++round) {
    const double round_bound = lvm::runtime::measure_sgemm_gflops() * 1e9 / flops;
    std::string line = fmt::format("round {}: bound {:.0f}", round + 1, round_bound);
    for (auto& m : methods) {
      torch::manual_seed(static_cast<uint64_t>(round));  // the same draws for every estimator
      const auto [rate, log_px] = rate_of(m.estimate);
      m.rates.push_back(rate);
      m.shares.push_back(rate / round_bound);
      m.log_px = log_px;
      line += fmt::format("; {} {:.0f}", m.name, rate);
    }
    std::cout << line << '\n';
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 == 1 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  };
  const double products = median(methods.back().rates);
  std::cout << fmt::format("median of {} rounds (range):\n", a.rounds);
  for (const auto& m : methods) {
    const auto [lo, hi] = std::minmax_element(m.rates.begin(), m.rates.end());
    const double rate = median(m.rates);
    std::cout << fmt::format(
        "{:<9} {:9.0f} decoder evals/s ({:.0f}-{:.0f}); {:4.1f}% of the sgemm bound, {:4.1f}% of the "
        "products "
        "alone{}; k=5000 x 10000 images: {:.0f} s\n",
        m.name, rate, *lo, *hi, 100 * median(m.shares), 100 * rate / products,
        m.name == "products" ? std::string() : fmt::format("; log p(x) {:.3f}", m.log_px), 5e7 / rate);
  }
  std::cout << fmt::format("peak RSS   {:.0f} MiB\n", peak_rss_mib());
  return 0;
}
