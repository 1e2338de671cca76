#pragma once
// A trained model back from its run directory (what `lvm train` wrote): the resolved config,
// the model rebuilt from it with a checkpoint's weights, and the checkpoint's state.

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
  std::shared_ptr<LatentVariableModel> model;  // in eval mode, on the requested device
  train::CheckpointState state;
  int64_t data_dim = 0;
};

/// The path of a run's checkpoint: "best" or "last" name run_dir/checkpoints/{best,last}.pt,
/// anything else is taken as a path to a .pt file.
std::string checkpoint_path(const std::string& run_dir, const std::string& checkpoint);

/// Loads run_dir/config.yaml and the checkpoint. D comes from the checkpoint, or, for
/// checkpoints that do not record it, from the data set the config names. Throws
/// std::invalid_argument when run_dir is not a run (naming what is missing), config::ConfigError
/// for a bad config.yaml, CheckpointError for a bad checkpoint.
LoadedRun load_run(const std::string& run_dir, const std::string& checkpoint = "best",
                   torch::Device device = torch::kCPU);

}  // namespace lvm::train
