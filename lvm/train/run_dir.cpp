#include "lvm/train/run_dir.h"

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "lvm/data/idx.h"
#include "lvm/models/registry.h"

namespace lvm::train {
namespace {

namespace fs = std::filesystem;

// The keys of the model section that decide the network's layout and meaning: all but the ones
// its options call training keys (objective, k, ...).
std::vector<std::string> architecture_differences(const config::ModelConfig& run,
                                                  const config::ModelConfig& checkpoint) {
  if (run.type() != checkpoint.type()) {
    return {fmt::format("model.type is {} in config.yaml but {} in the checkpoint", run.type(),
                        checkpoint.type())};
  }
  const std::vector<std::string> training = run.options().training_keys();
  const auto run_values = config::model_key_values(run);
  const auto checkpoint_values = config::model_key_values(checkpoint);
  std::vector<std::string> out;
  // Same type, so the same keys in the same order.
  for (size_t i = 0; i < run_values.size() && i < checkpoint_values.size(); ++i) {
    const auto& [key, value] = run_values[i];
    if (std::find(training.begin(), training.end(), key) != training.end()) continue;
    if (value != checkpoint_values[i].second) {
      out.push_back(fmt::format("model.{} is {} in config.yaml but {} in the checkpoint", key, value,
                                checkpoint_values[i].second));
    }
  }
  return out;
}

// For checkpoints that predate CheckpointState::data_shape: the shape of the data set's test
// images, which the training set shares (load_image_dataset checks that).
std::vector<int64_t> data_shape_from_dataset(const config::DataConfig& data, const std::string& checkpoint) {
  for (const char* name : {"t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz"}) {
    const fs::path path = fs::path(data.path) / name;
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;
    const auto images = data::read_idx(path.string());
    if (images.dim() != 3) {
      throw data::DataError(
          fmt::format("{}: expected images [N, H, W], got {} dimensions", path.string(), images.dim()));
    }
    return {1, images.size(1), images.size(2)};
  }
  throw CheckpointError(checkpoint +
                        ": does not record the data shape (written by an older lvm) and the data set it "
                        "was trained on is not at data.path '" +
                        data.path + "' to read it from");
}

}  // namespace

std::string resolve_checkpoint_path(const std::string& run_dir, const std::string& checkpoint) {
  if (checkpoint == "best" || checkpoint == "last")
    return (fs::path(run_dir) / "checkpoints" / (checkpoint + ".pt")).string();
  return checkpoint;
}

LoadedRun load_run(const std::string& run_dir, const std::string& checkpoint, torch::Device device) {
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec)) {
    throw std::invalid_argument(
        run_dir + (fs::exists(run_dir, ec) ? ": is not a directory" : ": run directory does not exist"));
  }
  const std::string config_path = (fs::path(run_dir) / "config.yaml").string();
  if (!fs::exists(config_path, ec)) {
    throw std::invalid_argument(run_dir + ": not a run directory (no config.yaml; `lvm train` writes one)");
  }

  LoadedRun run;
  run.config = config::load_config(config_path);
  run.checkpoint_path = resolve_checkpoint_path(run_dir, checkpoint);
  // The state first (cheap): its config and data shape decide what model to build.
  run.state = read_checkpoint_state(run.checkpoint_path);
  if (!run.state.config_yaml.empty()) {
    config::ExperimentConfig trained;
    try {
      trained = config::parse_config(run.state.config_yaml, run.checkpoint_path + " (its config)");
    } catch (const config::ConfigError& e) {
      throw CheckpointError(std::string("the config stored in the checkpoint is unreadable: ") + e.what());
    }
    const auto differences = architecture_differences(run.config.model, trained.model);
    if (!differences.empty()) {
      throw CheckpointError(fmt::format("{} does not belong to {}: {}", run.checkpoint_path, config_path,
                                        fmt::join(differences, "; ")));
    }
  }
  if (run.state.data_shape.empty())
    run.state.data_shape = data_shape_from_dataset(run.config.data, run.checkpoint_path);
  run.data_dim = std::accumulate(run.state.data_shape.begin(), run.state.data_shape.end(), int64_t{1},
                                 std::multiplies<>());

  run.model = make_model(run.config.model, run.state.data_shape);
  load_checkpoint(run.checkpoint_path, *run.model, nullptr);
  run.model->to(device);
  run.model->eval();
  return run;
}

}  // namespace lvm::train
