#pragma once
// Checkpoints: everything needed to continue a run exactly where it stopped (model, optimiser,
// epoch, RNG state, metrics so far) or to use its model (the resolved config travels with it).
// Written atomically; loading checks the format version and every parameter's name and shape
// before touching the model, so a mismatched file never half-loads.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

namespace lvm::train {

// 2: mid-epoch position (step, epoch_*). Version-1 files are read as epoch-boundary checkpoints.
constexpr int64_t kCheckpointFormatVersion = 2;

class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CheckpointState {
  int64_t epoch = 0;  // epochs completed
  // The best value of the run's selection criterion so far: the validation ELBO (gradient
  // trainer), the mean training log-likelihood (the mixture's fit).
  double best_value = -INFINITY;
  int64_t best_epoch = 0;
  std::string config_yaml;  // the run's resolved config
  std::string metrics_csv;  // metrics.csv as of this epoch
  torch::Tensor rng_state;  // the default generator of the training device
  // Shape of one example as the data set stores it, e.g. {1, 28, 28}; its product is the model's
  // data_dim. Empty in checkpoints written before it was recorded.
  std::vector<int64_t> data_shape;
  // Where in epoch `epoch` + 1 a mid-epoch checkpoint (stop signal, train.checkpoint_every) was
  // written, so that resuming replays exactly the remaining steps; all zero at an epoch boundary.
  int64_t step = 0;                // steps of that epoch done
  double epoch_value_sum = 0;      // sum of the per-example objective over those steps
  double epoch_objective_sum = 0;  // sum of −loss × batch size over them (the surrogate maximised)
  int64_t epoch_examples = 0;      // examples in those steps (skipped batches excluded)
  double epoch_seconds = 0;        // training time spent on them
  int64_t epoch_skipped = 0;       // batches skipped for a non-finite loss or gradient
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
