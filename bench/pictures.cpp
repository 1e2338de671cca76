// What pictures cost: the time to lay out and write a 64-image grid, to draw a 10,000-point
// latent scatter plot, and one training snapshot (64 samples + 16 reconstructions, two PNGs) of
// the default 784-200-200-50 VAE, next to which an MNIST training epoch takes seconds.
//   build/bench/pictures [repeats]
// Prints milliseconds per call (median of `repeats`, default 20) on the CPU.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/io/image_grid.h"
#include "lvm/io/png.h"
#include "lvm/io/scatter_plot.h"
#include "lvm/models/registry.h"
#include "lvm/runtime/runtime.h"
#include "lvm/train/snapshots.h"

namespace {

double median_ms(int repeats, const std::function<void()>& f) {
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  lvm::runtime::ensure_blas_environment(argc, argv);
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20;
  const auto threads = lvm::runtime::configure_threads(0, 0);
  torch::manual_seed(0);
  const auto dir = std::filesystem::temp_directory_path() / "lvm_bench_pictures";
  std::filesystem::create_directories(dir);

  const auto images = torch::rand({64, 784});
  const double grid_ms =
      median_ms(repeats, [&] { lvm::io::save_image(images, (dir / "grid.png").string()); });
  const auto bytes = lvm::io::encode_png(lvm::io::to_uint8(lvm::io::make_grid(images)));

  const auto points = torch::randn({10000, 2});
  const auto labels = torch::randint(0, 10, {10000}, torch::kLong);
  const double scatter_ms = median_ms(repeats, [&] {
    lvm::io::write_png((dir / "scatter.png").string(), lvm::io::scatter_plot(points, labels));
  });

  lvm::config::ExperimentConfig config;  // the default model: 784-200-200-50, tanh
  config.output.image_every = 1;
  auto model = lvm::make_model(config.model, {1, 28, 28});
  lvm::data::ImageDataset dataset;
  dataset.height = dataset.width = 28;
  dataset.binarization = lvm::data::Binarization::kDynamic;
  dataset.test = {torch::rand({10000, 784}), torch::zeros({10000}, torch::kLong)};
  lvm::train::TrainingSnapshots snapshots(config, dataset, dir.string());
  const double snapshot_ms = median_ms(repeats, [&] { snapshots.after_epoch(*model, 1); });

  fmt::print("pictures on the CPU ({} torch + {} BLAS threads), median of {}:\n", threads.torch_threads,
             threads.blas_threads, repeats);
  fmt::print("  64-image grid (28x28) to PNG       {:8.2f} ms  ({} bytes)\n", grid_ms, bytes.size());
  fmt::print("  10,000-point scatter plot to PNG   {:8.2f} ms\n", scatter_ms);
  fmt::print("  training snapshot (2 PNGs)         {:8.2f} ms\n", snapshot_ms);
  std::filesystem::remove_all(dir);
  return 0;
}
