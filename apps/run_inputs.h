#pragma once
// What `lvm sample` and `lvm encode` share: checking an output path before any work is done, and
// loading a run's data set (optionally from another directory than its config names).

#include <unistd.h>

#include <filesystem>
#include <string>

#include <torch/types.h>

#include "apps/commands.h"
#include "lvm/data/dataset.h"
#include "lvm/train/run_dir.h"

namespace lvm::app {

/// Fails with a UsageError naming `option` when `path` cannot be written: its directory is
/// missing or not writable, or it is a directory.
inline void check_output_path(const std::string& option, const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  if (fs::is_directory(target))
    throw UsageError(option + " " + path + ": is a directory, expected a file name");
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(parent)) {
    throw UsageError(option + " " + path + ": cannot write there (directory " + parent.string() +
                     " does not exist)");
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    throw UsageError(option + " " + path + ": cannot write there (directory " + parent.string() +
                     " is not writable)");
  }
}

/// `lvm eval`, `sample` and `encode` read image data sets and draw images: a run on vector data
/// (a Gaussian mixture's) gets a UsageError that says where its results are instead of a
/// data-shape error.
inline void require_image_model(const train::LoadedRun& run, const std::string& run_dir,
                                const std::string& command) {
  if (run.state.data_shape.size() != 3) {
    throw UsageError(run_dir + ": holds a model of vector data (model.type " + run.config.model.type() +
                     "); lvm " + command +
                     " works on image models only. The run's train and test log-likelihood are in " +
                     run_dir + "/summary.json");
  }
}

/// The run's data set, from `data_path` when given (else the path in its config.yaml).
inline data::ImageDataset load_run_data(const train::LoadedRun& run, const std::string& data_path,
                                        torch::Device device) {
  auto data_config = run.config.data;
  if (!data_path.empty()) data_config.path = data_path;
  auto dataset = data::load_image_dataset(data_config, device, run.config.train.seed);
  if (dataset.dim() != run.data_dim) {
    throw UsageError(data_config.path + ": images of " + std::to_string(dataset.height) + "x" +
                     std::to_string(dataset.width) + " pixels, but the model was trained on " +
                     std::to_string(run.data_dim) + " values per image");
  }
  return dataset;
}

}  // namespace lvm::app
