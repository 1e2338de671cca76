#pragma once
// A run directory written by `lvm train` (config.yaml, checkpoints/{best,last}.pt) turned back
// into the model it trained, for evaluation, sampling or export.

#include <cstdint>
#include <memory>
#include <string>

#include <torch/types.h>

#include "lvm/config/config.h"
#include "lvm/models/latent_variable_model.h"
#include "lvm/train/checkpoint.h"

namespace lvm::train {

struct LoadedRun {
  config::ExperimentConfig config;  // the run's config.yaml
  std::shared_ptr<LatentVariableModel> model;
  CheckpointState state;
  int64_t data_dim = 0;  // D the model was built for
};

/// Rebuilds the model of `run_dir` from its config.yaml and loads checkpoints/<checkpoint>.pt
/// ("best" or "last") into it, on `device`, in eval mode. Throws std::invalid_argument when the
/// directory, its config.yaml or the checkpoint file is missing or the name is unknown,
/// config::ConfigError for a bad config, CheckpointError for an unreadable or mismatched file.
LoadedRun load_run(const std::string& run_dir, const std::string& checkpoint = "best",
                   torch::Device device = torch::kCPU);

}  // namespace lvm::train
