#include "lvm/data/vector_dataset.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/data/csv.h"
#include "lvm/data/dataset.h"
#include "lvm/data/synthetic.h"

namespace lvm::data {

VectorDataset load_vector_dataset(const config::DataConfig& config, torch::Device device, int64_t seed) {
  VectorDataset out;
  torch::Tensor train, test;
  if (config.dataset == "synthetic") {
    // Independent seeds per split: n_train does not change the test points.
    const auto base = static_cast<uint64_t>(seed) * 2;
    train = make_synthetic(config.synthetic, config.n_train, config.noise, base);
    test = make_synthetic(config.synthetic, config.n_test, config.noise, base + 1);
    out.description = fmt::format("synthetic {} (noise {})", config.synthetic, config.noise);
  } else if (config.dataset == "csv") {
    const auto rows = read_csv(config.path);
    if (!config.test_path.empty()) {
      train = rows;
      test = read_csv(config.test_path);
      if (test.size(1) != train.size(1)) {
        throw std::invalid_argument(fmt::format("data.test_path: {} has {} columns but data.path {} has {}",
                                                config.test_path, test.size(1), config.path, train.size(1)));
      }
      out.description = fmt::format("csv {} (test {})", config.path, config.test_path);
    } else {
      const int64_t n = rows.size(0);
      const auto n_test = static_cast<int64_t>(std::llround(config.test_fraction * static_cast<double>(n)));
      if (n - n_test < 1) {
        throw std::invalid_argument(
            fmt::format("data.test_fraction: {} of {}'s {} rows leaves no training rows",
                        config.test_fraction, config.path, n));
      }
      at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed));
      const auto order = torch::randperm(n, generator, torch::TensorOptions().dtype(torch::kLong));
      train = rows.index_select(0, order.slice(0, 0, n - n_test));
      test = rows.index_select(0, order.slice(0, n - n_test, n));
      out.description = fmt::format("csv {} ({} rows held out for test)", config.path, n_test);
    }
  } else {
    const auto images = load_image_dataset(config, torch::kCPU, seed);
    train = images.train.images.to(torch::kDouble);
    test = images.test.images.to(torch::kDouble);
    out.description = fmt::format("{} pixels ({})", config.dataset,
                                  config.binarize == "none" ? "grey levels" : "binarised");
  }
  if (config.pca_dim > 0) {
    if (config.pca_dim > train.size(1)) {
      throw std::invalid_argument(
          fmt::format("data.pca_dim: {} exceeds the data's {} dimensions", config.pca_dim, train.size(1)));
    }
    out.pca = fit_pca(train, config.pca_dim);
    train = out.pca->project(train);
    test = out.pca->project(test);
    out.description += fmt::format(", PCA to {} dimensions", config.pca_dim);
  }
  out.train = train.to(device);
  out.test = test.to(device);
  return out;
}

}  // namespace lvm::data
