// lvm eval RUN_DIR [--k 5000] [--split test|validation|train] [--estimators iwae,elbo,prior,exact]
//          [--chunk N] [--seed S] [--checkpoint best|last] [--batch-size B] [--limit N]
//          [--per-example FILE.csv] [--refine N] [--refine-lr LR] [--data-path DIR] [--nproc N]
// Estimates log p(x) of a trained run on one split, prints a table and writes RUN_DIR/eval.json.
// The protocol itself is lvm/evaluation/evaluation.h; this file parses arguments and prints.

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <torch/torch.h>

#include "apps/commands.h"
#include "apps/parallel_ranks.h"
#include "apps/run_inputs.h"
#include "lvm/data/dataset.h"
#include "lvm/data/vector_dataset.h"
#include "lvm/evaluation/evaluation.h"
#include "lvm/models/registry.h"
#include "lvm/runtime/runtime.h"
#include "lvm/train/progress.h"
#include "lvm/train/run_dir.h"
#include "lvm/util/files.h"
#include "lvm/util/json.h"

namespace lvm::app {

namespace {

struct EvalArgs {
  std::string run_dir;
  std::string split = "test";
  std::string estimators = "iwae,elbo";
  std::string checkpoint = "best";
  int64_t limit = 0;
  std::string per_example;
  std::string output;  // the report (default RUN_DIR/eval.json)
  std::string data_path;
  std::string device;
  int64_t threads = -1;
  std::string progress = "auto";
  int64_t nproc = 0;  // 0: no launcher
  double timeout_s = 300;
  evaluation::EvaluationOptions options;
};

void validate(const EvalArgs& a) {
  evaluation::validate(a.options);
  if (a.limit < 0)
    throw UsageError(fmt::format("--limit must be >= 0 (0: the whole split), got {}", a.limit));
  if (a.split != "test" && a.split != "validation" && a.split != "train") {
    throw UsageError("--split: unknown split '" + a.split + "' (expected test, validation or train)");
  }
}

struct Split {
  evaluation::EvaluationData data;
  bool binary = false;  // the values are in {0, 1}
};

// The split to evaluate, from the run's data set (images, or the vectors of a mixture's run).
Split load_split(const train::LoadedRun& run, const EvalArgs& a, torch::Device device) {
  if (is_vector_run(run)) {
    return {evaluation::evaluation_split(load_run_vectors(run, a.data_path, device), a.split, a.limit),
            false};
  }
  const auto dataset = load_run_data(run, a.data_path, device);
  return {evaluation::evaluation_split(dataset, a.split, a.limit), dataset.binary};
}

// Bytes of one latent sample of one example, from the model's own estimate (0: unknown, and no
// memory bound on the chunk).
int64_t bytes_per_sample(const train::LoadedRun& run) {
  const ModelSpec& spec = model_spec(run.config.model.type());
  if (!spec.footprint) return 0;
  return static_cast<int64_t>(
      spec.footprint(run.config.model.options(), run.state.data_shape).bytes_per_sample);
}

// The progress bar, and in a log (lines mode) one line per tenth of the split, so that a long
// evaluation shows it is alive.
evaluation::BatchCallback progress_reporter(train::Progress& progress, train::ProgressMode mode, int64_t n) {
  const auto start = std::chrono::steady_clock::now();
  auto last_tenth = std::make_shared<int64_t>(0);
  return [&progress, mode, n, start, last_tenth](int64_t done, const std::string& status) {
    progress.update(done, status);
    const int64_t tenth = done * 10 / n;
    if (mode == train::ProgressMode::kLines && tenth > *last_tenth && done < n) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::cerr << fmt::format(
          "eval {}/{} examples  {}  {:.0f} s, ETA {}\n", done, n, status, elapsed,
          train::format_duration(elapsed * static_cast<double>(n - done) / static_cast<double>(done)));
    }
    *last_tenth = tenth;
  };
}

}  // namespace

Command add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  auto* cmd =
      app.add_subcommand("eval", "Estimate log p(x) of a trained run (importance sampling, ELBO, ...)");
  cmd->add_option("run_dir", args->run_dir, "Run directory written by lvm train")->required();
  cmd->add_option("--k", args->options.k, "Samples per example for the sampling estimators (default 5000)");
  cmd->add_option("--split", args->split, "test | validation | train (default test)");
  cmd->add_option("--estimators", args->estimators,
                  "Comma-separated: iwae (importance sampling with q(z|x)), elbo, prior (prior sampling), "
                  "exact (closed form) (default iwae,elbo)");
  cmd->add_option("--chunk", args->options.chunk,
                  "Samples drawn at a time (default: automatic; bounds memory)");
  cmd->add_option("--seed", args->options.seed, "Random seed for the samples (default 0)");
  cmd->add_option("--checkpoint", args->checkpoint,
                  "best, last, or a path to a .pt file of the run, e.g. RUN/checkpoints/epoch_0040.pt "
                  "(default best)");
  cmd->add_option("-o,--output", args->output, "Where to write the report (default RUN_DIR/eval.json)");
  cmd->add_option("--batch-size", args->options.batch_size, "Examples per batch (default 100)");
  cmd->add_option("--limit", args->limit, "Evaluate only the first N examples of the split (0: all)");
  cmd->add_option("--per-example", args->per_example, "Write per-example values to this CSV file");
  cmd->add_option("--refine", args->options.refine,
                  "Also fit a Gaussian q(z) per example with N Adam steps and report the amortisation "
                  "and approximation gaps");
  cmd->add_option("--refine-lr", args->options.refine_lr,
                  "Initial Adam learning rate for --refine (default 0.01)");
  cmd->add_option("--data-path,--data", args->data_path, "Data directory (default: the run's data.path)");
  cmd->add_option("--device", args->device, "auto | cpu | cuda | cuda:N (default: the run's device)");
  cmd->add_option("--threads", args->threads, "Total threads (default: the run's; 0: all cores)");
  cmd->add_option("--progress", args->progress, "auto | bar | lines | none (default auto)");
  cmd->add_option("--max-memory", args->options.max_memory_mib,
                  "MiB one chunk of samples may take (default 0: the memory available); a --chunk that "
                  "does not fit is an error");
  cmd->add_option("--nproc", args->nproc,
                  "Split the examples' batches over N local processes (Gloo on loopback); the report is the "
                  "one a single process makes")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--timeout", args->timeout_s,
                  "Seconds the processes of a data-parallel evaluation wait for each other (default 300)")
      ->check(CLI::PositiveNumber);

  return {
      cmd, [args]() {
        EvalArgs a = *args;
        validate(a);
        a.options.estimators = evaluation::parse_estimators(a.estimators);
        // Outputs are checked before the (long) evaluation, so an unwritable place fails at once.
        if (!a.per_example.empty()) check_output_path("--per-example", a.per_example);
        if (!a.output.empty()) check_output_path("-o", a.output);

        const auto world = world_for_command(a.nproc);
        auto run = train::load_run(a.run_dir, a.checkpoint, torch::kCPU);
        if (a.output.empty() && ::access(a.run_dir.c_str(), W_OK) != 0) {
          throw UsageError(fmt::format("{}/eval.json: cannot write there (run directory {} is not writable)",
                                       a.run_dir, a.run_dir));
        }
        if (a.nproc > 0) return launch_ranks(a.nproc, a.timeout_s);
        // One rank of several: evaluates its share of the batches; rank 0 reports.
        evaluation::EvaluationShard shard;
        std::shared_ptr<distributed::ProcessGroup> group;
        if (world) {
          group = join_group(*world, a.timeout_s);
          shard.rank = world->rank;
          shard.world_size = world->world_size;
          shard.sum = [group](torch::Tensor& values) {
            group->all_reduce_sum(values, "the evaluation's columns");
          };
          if (world->rank != 0) a.progress = "none";
        }
        const bool reports = !world || world->rank == 0;
        const auto& cfg = run.config;
        const auto threads =
            runtime::configure_threads(threads_of_rank(a.threads >= 0 ? a.threads : cfg.threads, world),
                                       cfg.torch_threads, cfg.blas_threads);
        const torch::Device device = runtime::resolve_device(a.device.empty() ? cfg.device : a.device);
        run.model->to(device);
        const Split split = load_split(run, a, device);
        const int64_t n = split.data.x.size(0);
        const int64_t row_bytes = bytes_per_sample(run);
        const int64_t chunk =
            evaluation::choose_chunk(a.options, std::min(a.options.batch_size, n), row_bytes, device);
        const bool grey_bernoulli = run.model->needs_binary_data() && !split.binary;
        const auto progress_mode = train::parse_progress_mode(a.progress);
        if (reports) {
          std::cerr << fmt::format(
              "evaluating {} ({} checkpoint, epoch {}) on {} split: {} examples, k = {}, chunk {}, batch {}, "
              "{} ({} torch + {} BLAS threads{})\n",
              a.run_dir, a.checkpoint, run.state.epoch, a.split, n, a.options.k, chunk,
              std::min(a.options.batch_size, n), device.str(), threads.torch_threads, threads.blas_threads,
              // Each chunk's samples are split over that many single-threaded workers (estimators.h).
              device.is_cpu() ? fmt::format("; chunks split over up to {} workers",
                                            std::max(threads.torch_threads, threads.blas_threads))
                              : std::string());
        }
        if (grey_bernoulli && reports) {
          std::cerr << "note: a Bernoulli likelihood on grey-level pixels: the values below are negative "
                       "cross-entropies, not log-likelihoods\n";
        }

        // A rank's progress counts its own share of the examples.
        const int64_t share = world ? (n + world->world_size - 1) / world->world_size : n;
        train::Progress progress(progress_mode, std::cerr);
        progress.start("eval", share, "ex");
        const auto report = evaluation::evaluate(*run.model, split.data, a.options, chunk,
                                                 progress_reporter(progress, progress_mode, share), shard);
        progress.finish(fmt::format("evaluated {} examples in {:.1f} s", n, report.seconds));
        if (!reports) return kExitOk;

        std::cout << fmt::format("{} ({} checkpoint, epoch {}), {} split, {} examples\n", a.run_dir,
                                 a.checkpoint, run.state.epoch, a.split, n)
                  << report.table(run.data_dim);
        auto head = util::Json::object();
        head.set("run_dir", a.run_dir)
            .set("checkpoint", a.checkpoint)
            .set("epoch", run.state.epoch)
            .set("split", a.split);
        auto json = report.to_json(run.data_dim, head);
        json.set("device", device.str())
            .set("torch_threads", threads.torch_threads)
            .set("blas_threads", threads.blas_threads);
        if (world) json.set("processes", world->world_size);
        if (grey_bernoulli)
          json.set("note", "Bernoulli likelihood on grey levels: cross-entropies, not log-likelihoods");

        const std::string json_path = a.output.empty() ? a.run_dir + "/eval.json" : a.output;
        util::write_file_atomic(json_path, json.dump());
        if (!a.per_example.empty())
          util::write_file_atomic(a.per_example, report.per_example_csv(split.data.labels));
        std::cout << fmt::format("wrote {}{} ({:.1f} s)\n", json_path,
                                 a.per_example.empty() ? "" : " and " + a.per_example, report.seconds);
        return kExitOk;
      }};
}

}  // namespace lvm::app
