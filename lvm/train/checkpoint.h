#pragma once
// Checkpoints: everything needed to continue a run exactly where it stopped (model, optimiser,
// epoch, RNG state, metrics so far) or to use its model (the resolved config travels with it).
// Written atomically; loading checks the format version and every parameter's name and shape
// before touching the model, so a mismatched file never half-loads.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

namespace lvm::train {

constexpr int64_t kCheckpointFormatVersion = 1;

class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CheckpointState {
  int64_t epoch = 0;              // epochs completed
  double best_value = -INFINITY;  // best validation ELBO so far
  int64_t best_epoch = 0;
  std::string config_yaml;  // the run's resolved config
  std::string metrics_csv;  // metrics.csv as of this epoch
  torch::Tensor rng_state;  // the default generator of the training device
  int64_t data_dim = 0;     // D of the data the model sees, to rebuild it (0: not recorded)
};

/// Writes model, optimiser (if given) and state to `path` atomically.
void save_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const CheckpointState& state);

/// Reads only the state (no model), e.g. to get the config out of a checkpoint.
CheckpointState read_checkpoint_state(const std::string& path);

/// Loads into `model` (and `optimizer` if given). Throws CheckpointError naming the file and the
/// fault: missing, unreadable or truncated, a newer format version, a parameter missing or of
/// another shape than the model's (another architecture).
CheckpointState load_checkpoint(const std::string& path, torch::nn::Module& model,
                                torch::optim::Optimizer* optimizer);

}  // namespace lvm::train
