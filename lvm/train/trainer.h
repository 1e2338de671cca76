#pragma once
// Trains a model from an experiment config into a run directory:
//   runs/<name>/config.yaml              the resolved config
//   runs/<name>/metrics.csv              one row per epoch
//   runs/<name>/checkpoints/{last,best}.pt
//   runs/<name>/summary.json             final numbers (best checkpoint on the test set)

#include <cstdint>
#include <functional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "lvm/config/config.h"
#include "lvm/objectives/objective.h"
#include "lvm/util/json.h"

namespace lvm::train {

/// Training stopped on a fault it cannot recover from (e.g. a non-finite loss); what() names the
/// epoch and step. Checkpoints written before the fault are intact.
class TrainingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Training stopped at a step boundary because stop_requested() (lvm/train/stop_signal.h) said
/// so; checkpoints/last.pt holds the position it stopped at and `--resume` continues from it.
class TrainingInterrupted : public std::runtime_error {
 public:
  TrainingInterrupted(const std::string& what, int signal) : std::runtime_error(what), signal(signal) {}
  int signal;
};

struct TrainRequest {
  config::ExperimentConfig config;
  std::string run_dir;          // where the run lives (config.resolved_run_dir() by default)
  bool resume = false;          // continue from run_dir/checkpoints/last.pt
  bool overwrite = false;       // allow replacing a run directory that already holds a run
  std::ostream* log = nullptr;  // progress and messages (default std::cerr)

  // Seams of the gradient trainer's loop, for programs that drive it (data-parallel training):
  /// Replaces the objective of the model's spec (ModelSpec::objective) when set.
  Objective objective{};
  /// Called after each step's backward pass, before the non-finite check, clipping and the
  /// optimiser step, with the parameters whose .grad() the pass filled (e.g. to all-reduce them).
  std::function<void(const std::vector<torch::Tensor>& parameters)> after_backward{};
  /// Whether this process writes the run directory (config.yaml, metrics, checkpoints, pictures,
  /// summary.json). Of several processes training one model, one writes; the others read a
  /// checkpoint to resume and report their own final weights.
  bool writes = true;
};

struct TrainSummary {
  int64_t epochs = 0;
  int64_t best_epoch = 0;
  double val_elbo = 0, test_elbo = 0, test_kl = 0, test_rec = 0;
  double examples_per_s = 0, seconds = 0;
};

/// The gradient trainer: Adam on the objective the model's spec names (lvm/models/registry.h),
/// for models of images with a proposal q(z|x) (validation reports the ELBO).
/// Throws TrainingError on a non-finite loss or gradient (train.on_nonfinite: stop) and
/// TrainingInterrupted when a stop is requested.
TrainSummary train(const TrainRequest& request);

/// What `lvm train` runs: the model's own fit where its spec has one (the mixture's EM), the
/// gradient trainer otherwise. Returns the one-line JSON summary the command prints.
util::Json run_training(const TrainRequest& request);

/// Checks the run directory before anything is written: with resume, that it holds a checkpoint;
/// otherwise, that it holds no run unless overwrite is set. Throws std::invalid_argument.
void check_run_dir(const TrainRequest& request);

/// The metrics.csv header line (without newline).
extern const char* const kMetricsHeader;

}  // namespace lvm::train
