#pragma once
// What `lvm sample` and `lvm encode` share: checking an output path before any work is done, and
// loading a run's data set (optionally from another directory than its config names).

#include <unistd.h>

#include <filesystem>
#include <string>

#include <torch/types.h>

#include "apps/commands.h"
#include "lvm/data/dataset.h"
#include "lvm/data/vector_dataset.h"
#include "lvm/evaluation/evaluation.h"
#include "lvm/represent/encoding.h"
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

/// Whether the run's model was trained on vectors (a Gaussian mixture's run), not images.
inline bool is_vector_run(const train::LoadedRun& run) { return run.state.data_shape.size() == 1; }

/// For the modes that need images (pictures of reconstructions, traversals, ...): a run on
/// vector data (a Gaussian mixture's) gets a UsageError that says where its results are instead of
/// a data-shape error.
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
/// The run's data config, pointed at `data_path` when given.
inline config::DataConfig run_data_config(const train::LoadedRun& run, const std::string& data_path) {
  auto data_config = run.config.data;
  if (!data_path.empty()) data_config.path = data_path;
  return data_config;
}

inline data::ImageDataset load_run_data(const train::LoadedRun& run, const std::string& data_path,
                                        torch::Device device) {
  const auto data_config = run_data_config(run, data_path);
  auto dataset = data::load_image_dataset(data_config, device, run.config.train.seed);
  if (dataset.dim() != run.data_dim) {
    throw UsageError(data_config.path + ": images of " + std::to_string(dataset.height) + "x" +
                     std::to_string(dataset.width) + " pixels, but the model was trained on " +
                     std::to_string(run.data_dim) + " values per image");
  }
  return dataset;
}

/// The run's vector data set (a mixture's run), from `data_path` when given.
inline data::VectorDataset load_run_vectors(const train::LoadedRun& run, const std::string& data_path,
                                            torch::Device device) {
  const auto data_config = run_data_config(run, data_path);
  auto vectors = data::load_vector_dataset(data_config, device, run.config.train.seed);
  if (vectors.dim() != run.data_dim) {
    throw UsageError(data_config.path + ": points of dimension " + std::to_string(vectors.dim()) +
                     ", but the model was trained on " + std::to_string(run.data_dim));
  }
  return vectors;
}

/// The examples of `split` as the model sees them, with their labels (-1 for vectors): images
/// binarised once with the display seed (represent::model_view), vectors as stored; the first
/// `limit` when limit > 0.
inline evaluation::EvaluationData load_run_examples(const train::LoadedRun& run, const std::string& data_path,
                                                    const std::string& split, int64_t limit,
                                                    torch::Device device) {
  if (is_vector_run(run)) {
    try {
      return evaluation::evaluation_split(load_run_vectors(run, data_path, device), split, limit);
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());
    }
  }
  const auto dataset = load_run_data(run, data_path, device);
  const auto& images = represent::split_by_name(dataset, split);
  const int64_t n = limit > 0 ? std::min(limit, images.size()) : images.size();
  return {represent::model_view(images.images, dataset.binarization).narrow(0, 0, n),
          images.labels.narrow(0, 0, n)};
}

}  // namespace lvm::app
