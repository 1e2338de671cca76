#pragma once
// Rebuilding a trained model from its run directory (written by `lvm train`).

#include <cstdint>
#include <memory>
#include <string>

#include <torch/types.h>

#include "lvm/config/config.h"
#include "lvm/models/latent_variable_model.h"
#include "lvm/train/checkpoint.h"

namespace lvm::train {

struct LoadedRun {
  config::ExperimentConfig config;
  std::shared_ptr<LatentVariableModel> model;
  train::CheckpointState state;
  int64_t data_dim = 0;  // D of the data the model sees (after PCA, for a gmm with data.pca_dim)
};

/// Reads run_dir/config.yaml, builds the model it describes and loads
/// run_dir/checkpoints/<checkpoint>.pt into it ("best" or "last", or a path ending in .pt), on
/// `device`, in eval mode. The data dimension comes from the checkpoint (or, for checkpoints that
/// did not record it, from the model's parameter shapes). Throws config::ConfigError,
/// CheckpointError or std::invalid_argument naming the file.
LoadedRun load_run(const std::string& run_dir, const std::string& checkpoint = "best",
                   torch::Device device = torch::kCPU);

}  // namespace lvm::train
