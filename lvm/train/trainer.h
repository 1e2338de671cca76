#pragma once
// The one training loop of every gradient-trained model (the VAE, the linear-Gaussian model, the
// mixture's model.fit: gradient), into a run directory:
//   runs/<name>/config.yaml              the resolved config
//   runs/<name>/metrics.csv              one row per epoch (kMetricsHeader, or the model's own)
//   runs/<name>/checkpoints/{last,best}.pt
//   runs/<name>/summary.json             final numbers (best checkpoint on the test set)
// Run directory, checkpoints (at epoch ends, every train.checkpoint_every steps and on a stop),
// resume, stop signals at step boundaries, the non-finite policy, schedules, progress and
// pictures are the loop's; what differs between models comes in through TrainHooks (data,
// initialisation, validation, metrics rows, summary) and the driving program's seams through
// TrainRequest (objective, after_backward, parallel, writes).

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/types.h>

#include "lvm/config/config.h"
#include "lvm/data/dataset.h"
#include "lvm/models/latent_variable_model.h"
#include "lvm/objectives/objective.h"
#include "lvm/train/data_parallel.h"
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

/// The data the loop trains on, on the run's device. Rows are examples: [N, D].
struct TrainingData {
  torch::Tensor train;              // as stored; every training batch goes through `prepare`
  torch::Tensor validation;         // what validation scores, as the model sees it (a set without a
                                    // validation split passes its training split)
  torch::Tensor test;               // as the model sees it; may have 0 rows
  std::vector<int64_t> data_shape;  // one example, e.g. {1, 28, 28} or {D}: the model is built for it
  std::string description;          // the sizes, for the log line the run starts with
  /// Per-batch step before the objective sees a training batch (dynamic binarisation); none when empty.
  std::function<torch::Tensor(const torch::Tensor& batch)> prepare{};
  /// The image set behind the splits, when they are images: the Bernoulli-on-grey check and the
  /// pictures (output.image_every, lvm/train/snapshots.h) need it; null for vector data.
  std::shared_ptr<const data::ImageDataset> images{};
};

/// A model's score on a whole split, means per example in nats.
struct Score {
  double value = 0;  // what picks best.pt: the ELBO of q(z|x), or the exact log p(x)
  double std_error = 0;
  double kl = std::numeric_limits<double>::quiet_NaN();   // the ELBO's terms, where the score is
  double rec = std::numeric_limits<double>::quiet_NaN();  // an ELBO (metrics.csv's val_kl, val_rec)
};

/// What the loop knows when an epoch ends, for the epoch's metrics row.
struct EpochEnd {
  int64_t epoch = 0;       // 1-based, just completed
  double train_value = 0;  // mean objective value over the epoch's steps (NaN: every batch skipped)
  // The mean of what the steps maximised (−loss): train_value itself unless the loss is a
  // surrogate (a KL weight β ≠ 1 or free bits), and the β of the epoch's last step.
  double train_objective = 0;
  double kl_weight = 1;
  Score validation;    // of TrainingData::validation after the epoch
  double seconds = 0;  // the epoch's training time (its steps, across a resume)
  double examples_per_s = 0;
  double lr = 0;
  int64_t skipped = 0;  // batches skipped for a non-finite loss or gradient (train.on_nonfinite: skip)
};

struct TrainSummary {
  int64_t epochs = 0;
  int64_t best_epoch = 0;
  double val_elbo = 0;                              // best validation score (TrainHooks::validate's when set)
  double test_elbo = 0, test_kl = 0, test_rec = 0;  // of best.pt; 0 when TrainHooks::summarize is set
  double examples_per_s = 0, seconds = 0;           // training steps only, in this process
  std::string device;
  int64_t torch_threads = 0, blas_threads = 0;
  // Data-parallel runs (TrainRequest::parallel): the group's size and what its exchanges cost.
  int64_t processes = 1;
  int64_t exchange_bytes_per_step = 0;  // of each process, summed with the others'
  double exchange_ms_per_step = 0;      // this process's time in the exchanges, per step
};

/// What a model brings to the loop beyond its spec's objective; each empty member keeps the VAE's
/// behaviour. The mixture's gradient fit (lvm/models/gmm/gmm_trainer.h) sets them all.
struct TrainHooks {
  /// A model of other data than images (the mixture's vectors) loads its own. Default: config.data's
  /// image set (lvm/data/dataset.h), validation and test binarised once, training batches per use.
  std::function<TrainingData(const config::ExperimentConfig& config, torch::Device device)> data{};
  /// A fitted start beats a random one (the mixture's k-means++): called on a fresh start only,
  /// after the model is on its device, never on resume (the checkpoint holds the start).
  std::function<void(LatentVariableModel& model, const TrainingData& data)> initialize{};
  /// A model may have a better score than the ELBO of q(z|x) (its exact log p(x)). Default:
  /// evaluate_elbo with train.eval_batch_size.
  std::function<Score(LatentVariableModel& model, const torch::Tensor& x)> validate{};
  /// What the log calls the validation score.
  std::string validation_label = "val ELBO";
  /// Runs of a model keep their own metrics.csv columns: header (without newline) and one row
  /// (with its newline) per epoch; both or neither. Default: kMetricsHeader and its row.
  std::string metrics_header{};
  std::function<std::string(LatentVariableModel& model, const EpochEnd& epoch)> metrics_row{};
  /// A model's summary.json has its own keys (the mixture's BIC): called once after the last epoch
  /// with best.pt's weights in `model` (a process that writes nothing: its final weights); returns
  /// the summary.json object and logs its own closing line. Default: test ELBO of best.pt.
  std::function<util::Json(LatentVariableModel& model, const TrainSummary& summary)> summarize{};
};

struct TrainRequest {
  config::ExperimentConfig config;
  std::string run_dir;          // where the run lives (config.resolved_run_dir() by default)
  bool resume = false;          // continue from run_dir/checkpoints/last.pt
  bool overwrite = false;       // allow replacing a run directory that already holds a run
  std::ostream* log = nullptr;  // progress and messages (default std::cerr)

  // Seams of the loop for programs that drive it (data-parallel training):
  /// Replaces the objective of the model's spec (ModelSpec::objective) when set.
  Objective objective{};
  /// Called after each step's backward pass, before the non-finite check, clipping and the
  /// optimiser step, with the parameters whose .grad() the pass filled (e.g. to all-reduce them).
  std::function<void(const std::vector<torch::Tensor>& parameters)> after_backward{};
  /// Data-parallel training: this process's group (lvm/train/data_parallel.h says what the loop
  /// then does); null for one process. Set `writes` on its rank 0 only.
  std::shared_ptr<DataParallel> parallel{};
  /// Whether this process writes the run directory (config.yaml, metrics, checkpoints, pictures,
  /// summary.json). Of several processes training one model, one writes; the others read a
  /// checkpoint to resume and report their own final weights.
  bool writes = true;
  /// Seams for the model's side of the loop: its data, start, validation, metrics and summary.
  TrainHooks hooks{};
  /// Epochs (1-based) after which checkpoints/epoch_NNNN.pt is kept too, for learning curves
  /// (lvm eval --checkpoint RUN/checkpoints/epoch_0004.pt). Empty: best.pt and last.pt only.
  std::vector<int64_t> keep_epochs{};
};

/// The gradient trainer: Adam on the objective the model's spec names (lvm/models/registry.h),
/// or request.objective. Without hooks, for models of images with a proposal q(z|x) (validation
/// reports the ELBO); request.hooks adapt it to other models and data.
/// Throws TrainingError on a non-finite loss or gradient (train.on_nonfinite: stop, or more than
/// train.max_skips_in_a_row skipped) and TrainingInterrupted when a stop is requested (taken after
/// the step in progress, with last.pt holding that point).
TrainSummary train(const TrainRequest& request);

/// What `lvm train` runs: the model's own fit where its spec has one (the mixture's, which runs EM
/// itself or its gradient fit through train()), the gradient trainer otherwise. Returns the one-line JSON
/// summary the command prints.
util::Json run_training(const TrainRequest& request);

/// Checks the run directory before anything is written: with resume, that it holds a checkpoint;
/// otherwise, that it holds no run unless overwrite is set. Throws std::invalid_argument.
void check_run_dir(const TrainRequest& request);

/// The metrics.csv header line of the default metrics row (without newline).
extern const char* const kMetricsHeader;

}  // namespace lvm::train
