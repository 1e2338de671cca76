#include "lvm/train/run_dir.h"

#include <filesystem>
#include <stdexcept>

#include <torch/serialize.h>
#include <torch/torch.h>

#include "lvm/models/factory.h"

namespace lvm::train {
namespace {

namespace fs = std::filesystem;

// D from the stored parameters, for checkpoints written before data_dim was recorded: a mixture's
// means [K, D], or the first layer [H, D] of a VAE's encoder.
int64_t data_dim_from_parameters(const std::string& path, const std::string& type) {
  torch::serialize::InputArchive archive;
  archive.load_from(path, torch::kCPU);
  const char* key = type == "gmm" ? "model/means" : "model/encoder.net.layers.0.weight";
  torch::Tensor stored;
  if (!archive.try_read(key, stored) || stored.dim() != 2) {
    throw CheckpointError(path + ": records no data dimension and has no parameter '" + std::string(key + 6) +
                          "' to infer it from");
  }
  return stored.size(1);
}

}  // namespace

LoadedRun load_run(const std::string& run_dir, const std::string& checkpoint, torch::Device device) {
  const fs::path dir(run_dir);
  const fs::path config_path = dir / "config.yaml";
  if (!fs::exists(config_path)) {
    throw std::invalid_argument(run_dir + ": not a run directory (" + config_path.string() + " not found)");
  }
  const std::string checkpoint_path =
      checkpoint.size() > 3 && checkpoint.compare(checkpoint.size() - 3, 3, ".pt") == 0
          ? checkpoint
          : (dir / "checkpoints" / (checkpoint + ".pt")).string();
  LoadedRun run;
  run.config = config::load_config(config_path.string());
  run.state = read_checkpoint_state(checkpoint_path);
  run.data_dim = run.state.data_dim > 0 ? run.state.data_dim
                                        : data_dim_from_parameters(checkpoint_path, run.config.model.type);
  run.model = make_model(run.config.model, run.data_dim);
  load_checkpoint(checkpoint_path, *run.model, nullptr);
  run.model->to(device);
  run.model->eval();
  return run;
}

}  // namespace lvm::train
