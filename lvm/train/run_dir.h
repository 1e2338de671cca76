#pragma once
// A trained model back from a run directory (what `lvm train` writes): the resolved config, the
// model rebuilt from it with a checkpoint's weights, and that checkpoint's state.

#include <cstdint>
#include <memory>
#include <string>

#include <torch/types.h>

#include "lvm/config/config.h"
#include "lvm/models/latent_variable_model.h"
#include "lvm/train/checkpoint.h"

namespace lvm::train {

struct LoadedRun {
  config::ExperimentConfig config;  // run_dir/config.yaml
  std::shared_ptr<LatentVariableModel> model;
  train::CheckpointState state;  // data_shape is always filled in
  int64_t data_dim = 0;
  std::string checkpoint_path;  // the file the weights came from
};

/// The checkpoint file `checkpoint` names in `run_dir`: "best" and "last" are
/// run_dir/checkpoints/{best,last}.pt; anything else is a path to a checkpoint file.
std::string resolve_checkpoint_path(const std::string& run_dir, const std::string& checkpoint);

/// Loads run_dir/config.yaml, builds its model, loads the checkpoint's weights into it and moves
/// it to `device` in eval mode. The checkpoint must have been written for the same architecture:
/// its own config's model section (type, sizes, activation, likelihood) must match config.yaml's,
/// and every parameter's shape must match. Checkpoints written before data_shape was recorded
/// get it from the data set's test images (data.path).
/// Throws std::invalid_argument when run_dir is not a run directory, config::ConfigError for a bad
/// config.yaml, CheckpointError for a missing, corrupt or mismatched checkpoint.
LoadedRun load_run(const std::string& run_dir, const std::string& checkpoint = "best",
                   torch::Device device = torch::kCPU);

}  // namespace lvm::train
