// Importance-sampled evaluation throughput: decoder evaluations per second (one z sample through
// the decoder for one image), against the matrix-product bound, for the fused evaluation path and
// the plain one, with the projected time of the full protocol (k = 5000 on 10,000 test images).
//
//   build/bench/eval_throughput [--arch classic|default] [--k 5000] [--n 200] [--batch 100]
//                               [--chunk 0] [--threads 0] [--data DIR] [--skip-plain]
// classic: 784-400-20 ReLU (configs/vae_mnist_classic.yaml); default: 784-200-200-50 tanh
// (configs/vae_mnist.yaml). Random weights (the cost does not depend on them); images are the first
// n of MNIST's test set binarised when --data is given, else random binary images of MNIST's density.

#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
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
  int64_t k = 5000, n = 200, batch = 100, chunk = 0, threads = 0;
  std::string data;
  bool plain = true;
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
    else if (key == "--threads")
      a.threads = std::stoll(value());
    else if (key == "--data")
      a.data = value();
    else if (key == "--skip-plain")
      a.plain = false;
    else
      throw std::invalid_argument("unknown argument " + key);
  }
  if (a.arch != "classic" && a.arch != "default") throw std::invalid_argument("--arch: classic or default");
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
  const auto measure = [&](const char* name, auto&& estimate) {
    estimate(images.slice(0, 0, std::min<int64_t>(batch, n)), std::min<int64_t>(a.k, chunk));  // warm-up
    const auto start = std::chrono::steady_clock::now();
    double mean = 0;
    for (int64_t b = 0; b < n; b += batch) {
      const auto x = images.slice(0, b, std::min(b + batch, n));
      mean += estimate(x, a.k).sum().template item<double>();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = static_cast<double>(n) * static_cast<double>(a.k) / seconds;
    std::cout << fmt::format(
        "{:<8} {:9.0f} decoder evals/s ({:4.1f}% of the sgemm bound); log p(x) {:.3f}; "
        "k=5000 x 10000 images: {}\n",
        name, rate, 100 * rate / bound, mean / static_cast<double>(n), [&] {
          const double s = 5e7 / rate;
          return fmt::format("{:.0f} s ({:.1f} min)", s, s / 60);
        }());
  };
  measure("fused", [&](const torch::Tensor& x, int64_t k) {
    return lvm::estimators::importance_sampling(vae, x, lvm::estimators::SamplingOptions(k, chunk)).log_px;
  });
  if (a.plain) {
    measure("plain",
            [&](const torch::Tensor& x, int64_t k) { return plain_importance_sampling(vae, x, k, chunk); });
  }
  std::cout << fmt::format("peak RSS   {:.0f} MiB\n", peak_rss_mib());
  return 0;
}
