#include "lvm/train/run_dir.h"

#include <filesystem>
#include <numeric>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "lvm/data/idx.h"
#include "lvm/models/factory.h"

namespace lvm::train {
namespace {

namespace fs = std::filesystem;

// The keys of the model section that decide the network's layout and meaning; the others
// (objective, k, ...) only shape training.
std::vector<std::string> architecture_differences(const config::ModelConfig& run,
                                                  const config::ModelConfig& checkpoint) {
  std::vector<std::string> out;
  auto compare = [&](const char* key, const auto& a, const auto& b) {
    if (a != b)
      out.push_back(fmt::format("model.{} is {} in config.yaml but {} in the checkpoint", key, a, b));
  };
  compare("type", run.type, checkpoint.type);
  compare("latent_dim", run.latent_dim, checkpoint.latent_dim);
  compare("encoder_hidden", fmt::format("[{}]", fmt::join(run.encoder_hidden, ", ")),
          fmt::format("[{}]", fmt::join(checkpoint.encoder_hidden, ", ")));
  compare("decoder_hidden", fmt::format("[{}]", fmt::join(run.decoder_hidden, ", ")),
          fmt::format("[{}]", fmt::join(checkpoint.decoder_hidden, ", ")));
  compare("activation", run.activation, checkpoint.activation);
  compare("likelihood", run.likelihood, checkpoint.likelihood);
  compare("components", run.components, checkpoint.components);
  compare("covariance", run.covariance, checkpoint.covariance);
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

  run.model = make_model(run.config.model, run.data_dim);
  load_checkpoint(run.checkpoint_path, *run.model, nullptr);
  run.model->to(device);
  run.model->eval();
  return run;
}

}  // namespace lvm::train
