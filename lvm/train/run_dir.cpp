#include "lvm/train/run_dir.h"

#include <filesystem>
#include <stdexcept>

#include <torch/serialize.h>
#include <torch/torch.h>

#include "lvm/models/factory.h"

namespace fs = std::filesystem;

namespace lvm::train {
namespace {

// Checkpoints written before CheckpointState::data_dim existed: a VAE's D is the input width of
// its encoder's first layer.
int64_t infer_data_dim(const std::string& path, const config::ExperimentConfig& config) {
  if (config.model.type == "vae") {
    torch::serialize::InputArchive archive;
    archive.load_from(path, torch::kCPU);
    torch::Tensor weight;
    if (archive.try_read("model/encoder.net.layers.0.weight", weight) && weight.dim() == 2) {
      return weight.size(1);
    }
  }
  throw CheckpointError(path + ": stores no data dimension and it cannot be inferred for model type '" +
                        config.model.type + "'");
}

}  // namespace

LoadedRun load_run(const std::string& run_dir, const std::string& checkpoint, torch::Device device) {
  if (!fs::is_directory(run_dir)) throw std::invalid_argument("run directory " + run_dir + " not found");
  const auto config_path = (fs::path(run_dir) / "config.yaml").string();
  if (!fs::exists(config_path)) {
    throw std::invalid_argument(run_dir + " holds no run (" + config_path + " not found)");
  }
  if (checkpoint != "best" && checkpoint != "last") {
    throw std::invalid_argument("unknown checkpoint '" + checkpoint + "' (expected best or last)");
  }
  const auto checkpoint_path = (fs::path(run_dir) / "checkpoints" / (checkpoint + ".pt")).string();
  if (!fs::exists(checkpoint_path)) {
    throw std::invalid_argument(run_dir + " has no " + checkpoint + " checkpoint (" + checkpoint_path +
                                " not found): the run has not finished an epoch yet");
  }
  LoadedRun run;
  run.config = config::load_config(config_path);
  run.state = read_checkpoint_state(checkpoint_path);
  run.data_dim = run.state.data_dim > 0 ? run.state.data_dim : infer_data_dim(checkpoint_path, run.config);
  run.model = make_model(run.config.model, run.data_dim);
  load_checkpoint(checkpoint_path, *run.model, nullptr);
  run.model->to(device);
  run.model->eval();
  return run;
}

}  // namespace lvm::train
