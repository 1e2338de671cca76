#pragma once
// Fits a Gaussian mixture (model.type: gmm) from an experiment config into a run directory, with
// the same layout as the VAE trainer:
//   config.yaml                  the resolved config
//   metrics.csv                  one row per EM step or epoch (kGmmMetricsHeader)
//   checkpoints/{last,best}.pt   best: highest training log-likelihood (for EM, the last step)
//   summary.json                 train / test mean log-likelihood, BIC, steps, time
//   pca.pt                       the projection, when data.pca_dim > 0 (lvm/data/pca.h)
// model.fit: em runs initialisation then EM until em_tol or em_max_steps, model.n_init times from
// seeds train.seed, train.seed + 1, ..., keeping the fit with the highest training log-likelihood
// (not resumable: it is short and deterministic; run it again); a stop request
// (lvm/train/stop_signal.h) is taken between EM steps, where last.pt and best.pt get the fit in
// progress and metrics.csv its rows so far.
// model.fit: gradient runs Adam on the exact log-likelihood for train.epochs epochs in the gradient
// trainer's loop (train::train, lvm/train/trainer.h) with TrainHooks for the vector data, the
// initialisation on a fresh start, validation and best.pt by the training log-likelihood, these
// metrics columns and this summary.json; so it resumes, stops at a step boundary, checkpoints every
// train.checkpoint_every steps and follows train.on_nonfinite as the VAE does.
// A stop throws TrainingInterrupted and writes no summary.json.

#include <cstdint>
#include <string>
#include <vector>

#include "lvm/train/trainer.h"
#include "lvm/util/json.h"

namespace lvm::train {

struct GmmSummary {
  std::string fit;                              // em | gradient
  int64_t steps = 0;                            // EM steps, or epochs
  bool converged = false;                       // EM: stopped on em_tol
  std::vector<double> restart_log_likelihoods;  // EM: final train log-likelihood of each of n_init fits
  int64_t best_restart = 0;                     // EM: the fit kept (1-based)
  double train_log_likelihood = 0;              // mean log p(x) over the training points, nats
  double test_log_likelihood = 0;               // NaN when the test split is empty
  double test_std_error = 0;
  double bic = 0;  // on the training points (lower is better)
  int64_t n_parameters = 0, n_train = 0, n_test = 0, dim = 0;
  double init_seconds = 0;  // initialisation (k-means++ and Lloyd, or random)
  double fit_seconds = 0;   // initialisation + EM steps or epochs, without evaluation and file writes
                            // (a resumed gradient fit: this process's epochs)
};

/// The metrics.csv header of a GMM run (without newline).
extern const char* const kGmmMetricsHeader;

/// The fit model.fit names (request.hooks are the gradient fit's own: any given are replaced).
GmmSummary train_gmm(const TrainRequest& request);

/// What `lvm train` prints for a mixture: steps, train and test log-likelihood, BIC, fit time.
util::Json gmm_summary_line(const GmmSummary& summary);

}  // namespace lvm::train
