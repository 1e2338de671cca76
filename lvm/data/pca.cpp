#include "lvm/data/pca.h"

#include <filesystem>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include "lvm/data/idx.h"
#include "lvm/util/files.h"

namespace lvm::data {

torch::Tensor Pca::project(const torch::Tensor& x) const {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == input_dim(), "Pca::project: expected x of shape [N, ", input_dim(),
              "], got ", x.sizes());
  const auto options = x.options();
  return torch::matmul(x - mean.to(options), components.to(options));
}

Pca fit_pca(const torch::Tensor& x, int64_t dim) {
  if (x.dim() != 2 || x.size(0) < 1) {
    throw std::invalid_argument(
        fmt::format("fit_pca: expected data [N, D] with N >= 1, got {}", c10::str(x.sizes())));
  }
  const int64_t d = x.size(1);
  if (dim < 1 || dim > d) {
    throw std::invalid_argument(fmt::format(
        "data.pca_dim: {} is out of range for data of {} dimensions (expected 1..{})", dim, d, d));
  }
  torch::NoGradGuard no_grad;
  const auto data = x.to(torch::kDouble);
  const auto mean = data.mean(0);
  const auto centred = data - mean;
  const auto covariance = torch::matmul(centred.t(), centred) / static_cast<double>(x.size(0));
  auto [eigenvalues, eigenvectors] = torch::linalg_eigh(covariance);  // ascending
  const auto top =
      torch::arange(d - 1, d - 1 - dim, -1, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
  auto components = eigenvectors.index_select(1, top);  // [D, dim]
  // Sign: the largest-magnitude entry of each column positive.
  const auto largest = components.abs().argmax(0, true);  // [1, dim]
  components = components * torch::sign(components.gather(0, largest));
  return Pca{mean, components, eigenvalues.index_select(0, top).clamp_min(0)};
}

void save_pca(const std::string& path, const Pca& pca) {
  torch::serialize::OutputArchive archive;
  archive.write("mean", pca.mean.cpu());
  archive.write("components", pca.components.cpu());
  archive.write("explained_variance", pca.explained_variance.cpu());
  // In memory first: util's writes check every return code, so a full disk cannot leave a short file.
  std::ostringstream bytes;
  archive.save_to(bytes);
  util::write_file_atomic(path, bytes.str());
}

Pca load_pca(const std::string& path) {
  if (!std::filesystem::exists(path)) throw DataError(path + ": PCA file not found");
  torch::serialize::InputArchive archive;
  Pca pca;
  try {
    archive.load_from(path, torch::kCPU);
  } catch (const c10::Error& e) {
    throw DataError(path + ": not a readable PCA file: " + e.what_without_backtrace());
  }
  if (!archive.try_read("mean", pca.mean) || !archive.try_read("components", pca.components) ||
      !archive.try_read("explained_variance", pca.explained_variance)) {
    throw DataError(path + ": not a PCA file (expected mean, components and explained_variance)");
  }
  return pca;
}

}  // namespace lvm::data
