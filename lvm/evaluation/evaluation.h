#pragma once
// The evaluation protocol of `lvm eval`, as a library: which split and with which fixed
// binarisation, how many samples at a time so that a chunk fits the memory budget, the estimators
// batch by batch, the summaries, active units, the amortisation and approximation gaps, and the
// eval.json / per-example CSV they produce. The command parses arguments, calls evaluate() and
// prints; programs and benchmarks call it the same way.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "lvm/data/dataset.h"
#include "lvm/data/vector_dataset.h"
#include "lvm/estimators/estimators.h"
#include "lvm/models/latent_variable_model.h"
#include "lvm/util/json.h"

namespace lvm::evaluation {

/// The estimators evaluate() knows: exact, iwae (importance sampling with q(z|x)), prior (prior
/// sampling), elbo.
const std::vector<std::string>& estimator_names();

/// "iwae, elbo" -> {"iwae", "elbo"}: trimmed, duplicates dropped. Throws std::invalid_argument for
/// an unknown name or an empty list.
std::vector<std::string> parse_estimators(const std::string& list);

struct EvaluationOptions {
  int64_t k = 5000;  // samples per example of the sampling estimators
  std::vector<std::string> estimators = {"iwae", "elbo"};
  int64_t chunk = 0;  // samples drawn at a time (0: chosen to fit the budget)
  int64_t batch_size = 100;
  int64_t seed = 0;            // seeds the samples: batch j draws from (seed, j)
  int64_t refine = 0;          // Adam steps of a per-example Gaussian q(z) for the gaps (0: no gaps)
  double refine_lr = 1e-2;     // its initial learning rate
  int64_t max_memory_mib = 0;  // a chunk's budget (0: the memory available on the device)
};

/// Checks the numeric options; throws std::invalid_argument naming the command-line option.
void validate(const EvaluationOptions& options);

/// A split of the run's data as every evaluation sees it.
struct EvaluationData {
  torch::Tensor x;       // [N, D]; dynamically binarised data drawn once with the split's fixed seed
  torch::Tensor labels;  // [N]
};

/// `split` (test | validation | train) of `dataset`, its first `limit` examples when limit > 0.
/// Throws std::invalid_argument for an unknown or empty split.
EvaluationData evaluation_split(const data::ImageDataset& dataset, const std::string& split, int64_t limit);

/// The same for vector data (a Gaussian mixture's): test or train (a vector data set has no
/// validation split); labels are -1.
EvaluationData evaluation_split(const data::VectorDataset& dataset, const std::string& split, int64_t limit);

/// Samples per chunk: options.chunk, or about 32768 rows / batch; either way chunk x batch rows of
/// `row_bytes` (the model's bytes per latent sample, 0 if unknown) must fit the budget. Throws
/// std::invalid_argument naming --chunk or --batch-size when they cannot.
int64_t choose_chunk(const EvaluationOptions& options, int64_t batch_size, int64_t row_bytes,
                     torch::Device device);

/// Per-example values by column ("iwae", "iwae_ess", "elbo", "elbo_kl", ...), in order of first use.
class Columns {
 public:
  /// values: [B], appended to the column (kept as double on the CPU).
  void add(const std::string& name, const torch::Tensor& values);
  bool contains(const std::string& name) const { return parts_.count(name) > 0; }
  /// [N] the whole column.
  torch::Tensor get(const std::string& name) const;
  const std::vector<std::string>& names() const { return order_; }

 private:
  std::vector<std::string> order_;
  std::map<std::string, std::vector<torch::Tensor>> parts_;
};

struct EvaluationReport {
  int64_t n = 0, chunk = 0, batch_size = 0;
  EvaluationOptions options;  // with the estimators the gaps needed added
  Columns columns;
  std::map<std::string, estimators::Summary> summaries;  // per estimator
  std::optional<estimators::ActiveUnits> active_units;   // models with a proposal
  double active_unit_threshold = 0.01;                   // Burda et al.'s, on Cov_x(E_q[z_i])
  double seconds = 0;
  double decoder_evals_per_s = 0;  // samples x examples per second of the sampling estimators

  /// eval.json's numbers (n, chunk, the estimators, bits/dim, active units, gaps, timings), appended
  /// to `head` (e.g. the run and split they describe); data_dim is D.
  util::Json to_json(int64_t data_dim, util::Json head = util::Json::object()) const;
  /// The table `lvm eval` prints (one line per estimator, then bits/dim, active units, gaps).
  std::string table(int64_t data_dim) const;
  /// index,label,<columns...>, one row per example.
  std::string per_example_csv(const torch::Tensor& labels) const;
};

/// Called after each batch with the examples done so far and a status ("iwae -95.12").
using BatchCallback = std::function<void(int64_t done, const std::string& status)>;

/// An evaluation split over processes (`lvm eval --nproc N`): this process evaluates batches j
/// with j % world_size == rank, then the per-example columns are summed over the processes (each
/// row is non-zero in one process only, so the sum is exact) and every process holds the whole
/// report. Batch j draws from the seed (options.seed, j) whoever evaluates it, so the report is
/// the one a single process makes.
struct EvaluationShard {
  int rank = 0;
  int world_size = 1;
  /// Sums `values` (double, CPU) over the processes in place; every process calls it alike.
  std::function<void(torch::Tensor& values)> sum{};
};

/// Runs the estimators over data.x in batches of options.batch_size, drawing `chunk` samples at a
/// time (choose_chunk's); the model must be on data.x's device. Throws std::invalid_argument when
/// the model lacks what an estimator needs (a proposal, an exact log p(x)), or when a shard of
/// several processes leaves one without a batch.
EvaluationReport evaluate(LatentVariableModel& model, const EvaluationData& data, EvaluationOptions options,
                          int64_t chunk, const BatchCallback& on_batch = {},
                          const EvaluationShard& shard = {});

}  // namespace lvm::evaluation
