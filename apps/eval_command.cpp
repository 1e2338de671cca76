// lvm eval RUN_DIR [--k 5000] [--split test|validation|train] [--estimators iwae,elbo,prior,exact]
//          [--chunk N] [--seed S] [--checkpoint best|last] [--batch-size B] [--limit N]
//          [--per-example FILE.csv] [--refine N] [--refine-lr LR] [--data-path DIR]
// Estimates log p(x) of a trained run on one split, prints a table and writes RUN_DIR/eval.json.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <torch/torch.h>

#include "apps/commands.h"
#include "apps/run_inputs.h"
#include "lvm/data/dataset.h"
#include "lvm/estimators/estimators.h"
#include "lvm/estimators/refine.h"
#include "lvm/models/registry.h"
#include "lvm/runtime/memory.h"
#include "lvm/runtime/runtime.h"
#include "lvm/train/progress.h"
#include "lvm/train/run_dir.h"
#include "lvm/util/files.h"
#include "lvm/util/json.h"

namespace lvm::app {

namespace {

namespace est = lvm::estimators;

// Samples x examples per chunk when --chunk is not given: bounds the memory of one chunk (z, its
// log-weights and, for models without a fused likelihood, the [rows, D] likelihood parameters).
constexpr int64_t kChunkRows = 32768;
// Burda et al.'s threshold on Cov_x(E_q[z_i]) for an active unit.
constexpr double kActiveUnitThreshold = 0.01;

struct EvalArgs {
  std::string run_dir;
  int64_t k = 5000;
  std::string split = "test";
  std::string estimators = "iwae,elbo";
  int64_t chunk = 0;
  int64_t seed = 0;
  std::string checkpoint = "best";
  int64_t batch_size = 100;
  int64_t limit = 0;
  std::string per_example;
  int64_t refine = 0;
  double refine_lr = 1e-2;
  std::string data_path;
  std::string device;
  int64_t threads = -1;
  std::string progress = "auto";
  int64_t max_memory_mib = 0;
};

const std::vector<std::string> kEstimatorNames = {"exact", "iwae", "prior", "elbo"};

std::vector<std::string> parse_estimators(const std::string& list) {
  std::vector<std::string> names;
  std::stringstream stream(list);
  std::string name;
  while (std::getline(stream, name, ',')) {
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    if (name.empty()) continue;
    if (std::find(kEstimatorNames.begin(), kEstimatorNames.end(), name) == kEstimatorNames.end()) {
      throw UsageError("--estimators: unknown estimator '" + name +
                       "' (expected exact, iwae, prior or elbo)");
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  if (names.empty())
    throw UsageError("--estimators: no estimator given (expected exact, iwae, prior or elbo)");
  return names;
}

void validate(const EvalArgs& a) {
  if (a.k < 1) throw UsageError(fmt::format("--k must be >= 1, got {}", a.k));
  if (a.chunk < 0) throw UsageError(fmt::format("--chunk must be >= 0 (0: automatic), got {}", a.chunk));
  if (a.batch_size < 1) throw UsageError(fmt::format("--batch-size must be >= 1, got {}", a.batch_size));
  if (a.limit < 0)
    throw UsageError(fmt::format("--limit must be >= 0 (0: the whole split), got {}", a.limit));
  if (a.max_memory_mib < 0)
    throw UsageError(
        fmt::format("--max-memory must be >= 0 (0: the memory available), got {}", a.max_memory_mib));
  if (a.refine < 0) throw UsageError(fmt::format("--refine must be >= 0, got {}", a.refine));
  if (!(a.refine_lr > 0)) throw UsageError(fmt::format("--refine-lr must be > 0, got {}", a.refine_lr));
  if (a.split != "test" && a.split != "validation" && a.split != "train") {
    throw UsageError("--split: unknown split '" + a.split + "' (expected test, validation or train)");
  }
  if (a.checkpoint != "best" && a.checkpoint != "last") {
    throw UsageError("--checkpoint: unknown checkpoint '" + a.checkpoint + "' (expected best or last)");
  }
}

// The split as the run's evaluations see it: dynamically binarised data are drawn once with the
// fixed seed the trainer uses, so every evaluation scores the same binary images.
struct SplitData {
  torch::Tensor images, labels;
};
SplitData select_split(const data::ImageDataset& dataset, const std::string& split, int64_t limit) {
  const data::Split* source = nullptr;
  int64_t seed = 0;
  if (split == "test") {
    source = &dataset.test;
    seed = data::kTestBinarizationSeed;
  } else if (split == "validation") {
    source = &dataset.validation;
    seed = data::kValidationBinarizationSeed;
    if (source->size() == 0)
      throw UsageError("--split validation: the run has none (data.validation_size: 0)");
  } else {
    source = &dataset.train;
    seed = data::kTrainBinarizationSeed;
  }
  SplitData out;
  out.images = data::fixed_binarization(source->images, dataset.binarization, seed);
  out.labels = source->labels;
  if (limit > 0 && limit < out.images.size(0)) {
    out.images = out.images.slice(0, 0, limit);
    out.labels = out.labels.slice(0, 0, limit);
  }
  if (out.images.size(0) == 0) throw UsageError("--split " + split + ": the split is empty");
  return out;
}

bool has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Per-example columns, gathered batch by batch (double, CPU).
class Columns {
 public:
  void add(const std::string& name, const torch::Tensor& values) {
    if (std::find(order_.begin(), order_.end(), name) == order_.end()) order_.push_back(name);
    parts_[name].push_back(values.detach().to(torch::kCPU, torch::kDouble));
  }
  bool contains(const std::string& name) const { return parts_.count(name) > 0; }
  torch::Tensor get(const std::string& name) const { return torch::cat(parts_.at(name)); }
  const std::vector<std::string>& names() const { return order_; }

 private:
  std::vector<std::string> order_;
  std::map<std::string, std::vector<torch::Tensor>> parts_;
};

std::string per_example_csv(const Columns& columns, const torch::Tensor& labels) {
  std::vector<torch::Tensor> values;
  std::string out = "index,label";
  for (const auto& name : columns.names()) {
    out += "," + name;
    values.push_back(columns.get(name));
  }
  out += '\n';
  const auto label = labels.to(torch::kCPU, torch::kLong);
  const auto* label_data = label.data_ptr<int64_t>();
  std::vector<const double*> data;
  for (auto& v : values) data.push_back(v.data_ptr<double>());
  for (int64_t i = 0; i < label.size(0); ++i) {
    out += fmt::format("{},{}", i, label_data[i]);
    for (const auto* column : data) out += fmt::format(",{:.6f}", column[i]);
    out += '\n';
  }
  return out;
}

// Samples per chunk: --chunk, or kChunkRows / batch; either way one chunk's working set (chunk x
// batch decoder rows of `row_bytes`) must fit the budget: --max-memory, else the memory available.
// A chunk that cannot fit is a usage error naming the option, before any evaluation.
int64_t choose_chunk(const EvalArgs& a, int64_t batch_size, int64_t row_bytes, torch::Device device) {
  const std::optional<int64_t> budget =
      a.max_memory_mib > 0
          ? std::optional<int64_t>(std::min<int64_t>(a.max_memory_mib, int64_t{1} << 40) << 20)
          : runtime::available_memory(device);
  const std::string budget_text =
      !budget ? ""
      : a.max_memory_mib > 0
          ? fmt::format("the {} allowed by --max-memory {}", runtime::format_bytes(*budget), a.max_memory_mib)
          : fmt::format("the {} of memory available", runtime::format_bytes(*budget));
  const auto need = [&](int64_t chunk) {
    return static_cast<double>(chunk) * static_cast<double>(batch_size) * static_cast<double>(row_bytes);
  };
  if (a.chunk > 0) {
    const int64_t chunk = std::min(a.chunk, a.k);
    if (budget && need(chunk) > static_cast<double>(*budget)) {
      throw UsageError(fmt::format(
          "--chunk {}: one chunk of {} samples for each of {} examples needs about {} ({} x {} decoder rows "
          "of {} B), more than {}; use a smaller --chunk or --batch-size, or leave --chunk out to pick one "
          "that fits",
          a.chunk, chunk, batch_size, runtime::format_bytes(need(chunk)), chunk, batch_size, row_bytes,
          budget_text));
    }
    return chunk;
  }
  int64_t chunk = std::clamp<int64_t>(kChunkRows / batch_size, 1, a.k);
  if (budget) {
    const int64_t fits = *budget / std::max<int64_t>(1, batch_size * row_bytes);
    if (fits < 1) {
      throw UsageError(fmt::format(
          "--batch-size {}: even one sample for each of {} examples needs about {}, more than {}; use a "
          "smaller --batch-size",
          a.batch_size, batch_size, runtime::format_bytes(need(1)), budget_text));
    }
    chunk = std::min(chunk, fits);
  }
  return chunk;
}

}  // namespace

Command add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  auto* cmd =
      app.add_subcommand("eval", "Estimate log p(x) of a trained run (importance sampling, ELBO, ...)");
  cmd->add_option("run_dir", args->run_dir, "Run directory written by lvm train")->required();
  cmd->add_option("--k", args->k, "Samples per example for the sampling estimators (default 5000)");
  cmd->add_option("--split", args->split, "test | validation | train (default test)");
  cmd->add_option("--estimators", args->estimators,
                  "Comma-separated: iwae (importance sampling with q(z|x)), elbo, prior (prior sampling), "
                  "exact (closed form) (default iwae,elbo)");
  cmd->add_option("--chunk", args->chunk, "Samples drawn at a time (default: automatic; bounds memory)");
  cmd->add_option("--seed", args->seed, "Random seed for the samples (default 0)");
  cmd->add_option("--checkpoint", args->checkpoint, "best | last (default best)");
  cmd->add_option("--batch-size", args->batch_size, "Examples per batch (default 100)");
  cmd->add_option("--limit", args->limit, "Evaluate only the first N examples of the split (0: all)");
  cmd->add_option("--per-example", args->per_example, "Write per-example values to this CSV file");
  cmd->add_option("--refine", args->refine,
                  "Also fit a Gaussian q(z) per example with N Adam steps and report the amortisation "
                  "and approximation gaps");
  cmd->add_option("--refine-lr", args->refine_lr, "Initial Adam learning rate for --refine (default 0.01)");
  cmd->add_option("--data-path", args->data_path, "Data directory (default: the run's data.path)");
  cmd->add_option("--device", args->device, "auto | cpu | cuda | cuda:N (default: the run's device)");
  cmd->add_option("--threads", args->threads, "Total threads (default: the run's; 0: all cores)");
  cmd->add_option("--progress", args->progress, "auto | bar | lines | none (default auto)");
  cmd->add_option("--max-memory", args->max_memory_mib,
                  "MiB one chunk of samples may take (default 0: the memory available); a --chunk that "
                  "does not fit is an error");

  return {
      cmd, [args]() {
        const EvalArgs& a = *args;
        validate(a);
        auto estimators = parse_estimators(a.estimators);
        // The gaps compare the ELBOs with the importance-sampled log p(x): both are needed.
        if (a.refine > 0) {
          for (const char* needed : {"iwae", "elbo"})
            if (!has(estimators, needed)) estimators.push_back(needed);
        }
        const auto progress_mode = train::parse_progress_mode(a.progress);
        // Outputs are checked before the (long) evaluation, so an unwritable place fails at once.
        if (!a.per_example.empty()) check_output_path("--per-example", a.per_example);

        auto run = train::load_run(a.run_dir, a.checkpoint, torch::kCPU);
        require_image_model(run, a.run_dir, "eval");
        if (::access(a.run_dir.c_str(), W_OK) != 0) {
          throw UsageError(fmt::format("{}/eval.json: cannot write there (run directory {} is not writable)",
                                       a.run_dir, a.run_dir));
        }
        const auto& cfg = run.config;
        const auto threads = runtime::configure_threads(a.threads >= 0 ? a.threads : cfg.threads,
                                                        cfg.torch_threads, cfg.blas_threads);
        const torch::Device device = runtime::resolve_device(a.device.empty() ? cfg.device : a.device);
        run.model->to(device);
        auto& model = *run.model;
        if (has(estimators, "exact")) {
          torch::NoGradGuard no_grad;
          if (!model.exact_log_marginal(torch::zeros({1, run.data_dim}, device))) {
            throw UsageError("--estimators exact: model '" + model.kind() +
                             "' has no closed-form log p(x); use iwae, prior or elbo");
          }
        }

        auto data_config = cfg.data;
        if (!a.data_path.empty()) data_config.path = a.data_path;
        const auto dataset = data::load_image_dataset(data_config, device, cfg.train.seed);
        if (dataset.dim() != run.data_dim) {
          throw UsageError(fmt::format("{}: images have {} pixels but the model was trained on {}",
                                       data_config.path, dataset.dim(), run.data_dim));
        }
        const auto split = select_split(dataset, a.split, a.limit);
        const int64_t n = split.images.size(0);
        const int64_t batch_size = std::min(a.batch_size, n);
        // One row per latent sample and example, of the size the model estimates (0: unknown,
        // and no memory bound on the chunk).
        const ModelSpec& spec = model_spec(cfg.model.type());
        const int64_t row_bytes =
            spec.footprint ? static_cast<int64_t>(
                                 spec.footprint(cfg.model.options(), run.state.data_shape).bytes_per_sample)
                           : 0;
        const int64_t chunk = choose_chunk(a, batch_size, row_bytes, device);
        const bool grey_bernoulli = model.needs_binary_data() && !dataset.binary;

        std::cerr << fmt::format(
            "evaluating {} ({} checkpoint, epoch {}) on {} split: {} examples, k = {}, chunk {}, batch {}, "
            "{} ({} torch + {} BLAS threads)\n",
            a.run_dir, a.checkpoint, run.state.epoch, a.split, n, a.k, chunk, batch_size, device.str(),
            threads.torch_threads, threads.blas_threads);
        if (grey_bernoulli) {
          std::cerr << "note: a Bernoulli likelihood on grey-level pixels: the values below are negative "
                       "cross-entropies, not log-likelihoods\n";
        }

        torch::manual_seed(static_cast<uint64_t>(a.seed));
        const est::SamplingOptions sampling(a.k, chunk);
        Columns columns;
        train::Progress progress(progress_mode, std::cerr);
        progress.start("eval", n, "ex");
        const auto start = std::chrono::steady_clock::now();
        double sampling_seconds = 0, decoder_evals = 0;
        const auto timed = [&](auto&& f) {
          const auto t0 = std::chrono::steady_clock::now();
          auto result = f();
          sampling_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          return result;
        };
        double running_sum = 0;
        for (int64_t begin = 0; begin < n; begin += batch_size) {
          const auto x = split.images.slice(0, begin, std::min(begin + batch_size, n));
          const double b = static_cast<double>(x.size(0));
          if (has(estimators, "exact")) columns.add("exact", est::exact(model, x).log_px);
          std::shared_ptr<Distribution> q;
          if (has(estimators, "iwae") || has(estimators, "elbo")) {
            torch::NoGradGuard no_grad;
            q = model.proposal(x);
            if (q == nullptr) {
              throw UsageError("--estimators iwae/elbo: model '" + model.kind() + "' has no proposal q(z|x)");
            }
            // One pass serves both: the ELBO's reconstruction term is averaged over the same k samples.
            const auto is = timed([&] { return est::importance_sampling(model, x, *q, sampling); });
            decoder_evals += b * static_cast<double>(a.k);
            if (has(estimators, "iwae")) {
              columns.add("iwae", is.log_px);
              columns.add("iwae_ess", is.ess);
              running_sum += is.log_px.sum().item<double>();
            }
            if (has(estimators, "elbo")) {
              const auto e = est::elbo_from(is, model, *q);
              columns.add("elbo", e.log_px);
              columns.add("elbo_kl", e.kl);
              columns.add("elbo_rec", e.rec);
            }
          }
          if (has(estimators, "prior")) {
            const auto p = timed([&] { return est::prior_sampling(model, x, sampling); });
            decoder_evals += b * static_cast<double>(a.k);
            columns.add("prior", p.log_px);
            columns.add("prior_ess", p.ess);
          }
          if (a.refine > 0) {
            const auto refined = est::refine_proposal(model, x, est::RefineOptions(a.refine).lr(a.refine_lr));
            columns.add("elbo_refined", est::elbo(model, x, refined, sampling).log_px);
          }
          const int64_t done = std::min(begin + batch_size, n);
          const std::string status = has(estimators, "iwae")
                                         ? fmt::format("iwae {:.2f}", running_sum / static_cast<double>(done))
                                         : "";
          progress.update(done, status);
          // In a log (lines mode) one line per tenth of the split, so a long evaluation shows it is alive.
          if (progress_mode == train::ProgressMode::kLines && done * 10 / n > (done - x.size(0)) * 10 / n &&
              done < n) {
            const double elapsed =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            std::cerr << fmt::format(
                "eval {}/{} examples  {}  {:.0f} s, ETA {}\n", done, n, status, elapsed,
                train::format_duration(elapsed * static_cast<double>(n - done) / static_cast<double>(done)));
          }
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        progress.finish(fmt::format("evaluated {} examples in {:.1f} s", n, seconds));

        std::optional<est::ActiveUnits> active;
        {
          torch::NoGradGuard no_grad;
          if (model.proposal(split.images.slice(0, 0, 1)) != nullptr && model.latent_dim() > 0) {
            active = est::active_units(model, split.images, std::max<int64_t>(batch_size, 1000),
                                       kActiveUnitThreshold);
          }
        }

        // Summaries, table and eval.json.
        auto json_estimators = util::Json::object();
        std::cout << fmt::format("{} ({} checkpoint, epoch {}), {} split, {} examples\n", a.run_dir,
                                 a.checkpoint, run.state.epoch, a.split, n);
        std::cout << fmt::format("{:<10} {:>6} {:>12} {:>9} {:>10}  {}\n", "estimator", "k", "log p(x)",
                                 "s.e.", "ESS mean", "");
        std::map<std::string, est::Summary> summaries;
        for (const auto& name : estimators) {
          const auto summary = est::summarize(columns.get(name));
          summaries[name] = summary;
          auto entry = util::Json::object();
          std::string k_text = "-", ess_text = "", extra;
          if (name != "exact") {
            entry.set("k", a.k);
            k_text = std::to_string(a.k);
          }
          entry.set("log_px", summary.mean).set("std_error", summary.std_error);
          if (columns.contains(name + "_ess")) {
            const double ess = columns.get(name + "_ess").mean().item<double>();
            entry.set("ess_mean", ess);
            ess_text = fmt::format("{:.1f}", ess);
          }
          if (name == "elbo") {
            const double kl = columns.get("elbo_kl").mean().item<double>();
            const double rec = columns.get("elbo_rec").mean().item<double>();
            entry.set("kl", kl).set("rec", rec);
            extra = fmt::format("KL {:.3f}, rec {:.3f}", kl, rec);
          }
          json_estimators.set(name, entry);
          std::cout << fmt::format("{:<10} {:>6} {:>12.3f} {:>9.3f} {:>10}  {}\n", name, k_text, summary.mean,
                                   summary.std_error, ess_text, extra);
        }

        // bits/dim from the best estimate available: the exact value, else the IWAE bound.
        std::string bpd_from;
        for (const char* name : {"exact", "iwae"})
          if (bpd_from.empty() && summaries.count(name)) bpd_from = name;
        auto json = util::Json::object();
        json.set("run_dir", a.run_dir)
            .set("checkpoint", a.checkpoint)
            .set("epoch", run.state.epoch)
            .set("split", a.split)
            .set("n", n)
            .set("seed", a.seed)
            .set("chunk", chunk)
            .set("batch_size", batch_size)
            .set("estimators", json_estimators);
        if (!bpd_from.empty()) {
          const double bpd = -summaries[bpd_from].mean / (static_cast<double>(run.data_dim) * std::log(2.0));
          json.set("bits_per_dim", bpd).set("bits_per_dim_from", bpd_from);
          std::cout << fmt::format("bits/dim   {:.4f} (from {})\n", bpd, bpd_from);
        }
        if (active) {
          json.set("active_units", active->count)
              .set("latent_dim", model.latent_dim())
              .set("active_unit_threshold", kActiveUnitThreshold);
          std::cout << fmt::format("active units {}/{} (Cov_x E_q[z_i] > {})\n", active->count,
                                   model.latent_dim(), kActiveUnitThreshold);
        }
        if (a.refine > 0) {
          const auto encoder = columns.get("elbo"), refined = columns.get("elbo_refined"),
                     log_px = columns.get("iwae");
          const auto amortisation = est::summarize(refined - encoder);
          const auto approximation = est::summarize(log_px - refined);
          auto gaps = util::Json::object();
          gaps.set("refine_steps", a.refine)
              .set("refine_lr", a.refine_lr)
              .set("elbo_encoder", summaries["elbo"].mean)
              .set("elbo_refined", est::summarize(refined).mean)
              .set("log_px", summaries["iwae"].mean)
              .set("amortisation", amortisation.mean)
              .set("amortisation_std_error", amortisation.std_error)
              .set("approximation", approximation.mean)
              .set("approximation_std_error", approximation.std_error);
          json.set("gaps", gaps);
          std::cout << fmt::format(
              "gaps ({} refine steps): ELBO encoder {:.3f}, ELBO refined {:.3f}, log p(x) {:.3f}\n"
              "  amortisation gap {:.3f} ± {:.3f}, approximation gap {:.3f} ± {:.3f}\n",
              a.refine, summaries["elbo"].mean, est::summarize(refined).mean, summaries["iwae"].mean,
              amortisation.mean, amortisation.std_error, approximation.mean, approximation.std_error);
        }
        json.set("seconds", seconds)
            .set("decoder_evals_per_s", sampling_seconds > 0 ? decoder_evals / sampling_seconds : 0.0)
            .set("device", device.str())
            .set("torch_threads", threads.torch_threads)
            .set("blas_threads", threads.blas_threads);
        if (grey_bernoulli)
          json.set("note", "Bernoulli likelihood on grey levels: cross-entropies, not log-likelihoods");

        const std::string json_path = a.run_dir + "/eval.json";
        util::write_file_atomic(json_path, json.dump());
        if (!a.per_example.empty())
          util::write_file_atomic(a.per_example, per_example_csv(columns, split.labels));
        std::cout << fmt::format("wrote {}{} ({:.1f} s)\n", json_path,
                                 a.per_example.empty() ? "" : " and " + a.per_example, seconds);
        return kExitOk;
      }};
}

}  // namespace lvm::app
