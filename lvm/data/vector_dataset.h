#pragma once
// Data for models of real vectors (the Gaussian mixture): a train and a test matrix, from
//   synthetic      seeded 2-D sets (lvm/data/synthetic.h), data.n_train / data.n_test points
//   csv            a user's file of numbers (lvm/data/csv.h); the test rows from data.test_path,
//                  else a seeded share data.test_fraction of the file
//   mnist, ...     image sets flattened to pixels in [0, 1] (grey levels, or statically
//                  binarised); train_limit / test_limit apply, the validation split is not used
// optionally projected onto the training data's top data.pca_dim principal components.

#include <cstdint>
#include <optional>
#include <string>

#include <torch/types.h>

#include "lvm/config/config.h"
#include "lvm/data/pca.h"

namespace lvm::data {

struct VectorDataset {
  torch::Tensor train;  // [N, D] float64 on the requested device
  torch::Tensor test;   // [M, D], M may be 0
  std::string description;
  std::optional<Pca> pca;  // when data.pca_dim > 0: the projection applied to both splits
  int64_t dim() const { return train.size(1); }
};

/// Throws DataError for unreadable or malformed files, std::invalid_argument for settings that do
/// not fit the data (pca_dim larger than the dimension, a test file of another width, ...).
VectorDataset load_vector_dataset(const config::DataConfig& config, torch::Device device, int64_t seed);

}  // namespace lvm::data
