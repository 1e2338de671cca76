#pragma once
// Principal component analysis, computed here (eigendecomposition of the covariance in double
// precision): projects high-dimensional data (e.g. 784 pixels) onto its top d directions of
// variance before a Gaussian mixture is fitted there.

#include <cstdint>
#include <string>

#include <torch/types.h>

namespace lvm::data {

struct Pca {
  torch::Tensor mean;                // [D]
  torch::Tensor components;          // [D, d] orthonormal columns, by decreasing variance
  torch::Tensor explained_variance;  // [d] variance of the data along each column

  int64_t input_dim() const { return components.size(0); }
  int64_t output_dim() const { return components.size(1); }
  /// x [N, D] -> [N, d]: (x − mean) · components, in x's dtype and on x's device.
  torch::Tensor project(const torch::Tensor& x) const;
};

/// Fits on x [N, D] (N >= 1): the top `dim` eigenvectors of the (population) covariance, each
/// signed so that its largest-magnitude entry is positive (deterministic). Throws
/// std::invalid_argument unless 1 <= dim <= D.
Pca fit_pca(const torch::Tensor& x, int64_t dim);

/// Saved next to a run's checkpoints (run_dir/pca.pt), atomically; load throws DataError naming
/// the file when it is missing or not a PCA file.
void save_pca(const std::string& path, const Pca& pca);
Pca load_pca(const std::string& path);

}  // namespace lvm::data
