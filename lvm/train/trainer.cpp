#include "lvm/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/data/dataset.h"
#include "lvm/models/registry.h"
#include "lvm/objectives/objective.h"
#include "lvm/runtime/batch_shard.h"
#include "lvm/runtime/runtime.h"
#include "lvm/train/checkpoint.h"
#include "lvm/train/evaluate.h"
#include "lvm/train/flat_adam.h"
#include "lvm/train/memory_check.h"
#include "lvm/train/progress.h"
#include "lvm/train/schedule.h"
#include "lvm/train/snapshots.h"
#include "lvm/train/stop_signal.h"
#include "lvm/util/fault.h"
#include "lvm/util/files.h"
#include "lvm/util/json.h"

namespace fs = std::filesystem;

namespace lvm::train {

const char* const kMetricsHeader =
    "epoch,train_elbo,val_elbo,val_kl,val_rec,seconds,examples_per_s,lr,skipped_batches,train_objective,kl_"
    "weight";

namespace {

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups())
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

at::Generator training_generator(torch::Device device) {
  return at::globalContext().defaultGenerator(device);
}

torch::Tensor rng_state(torch::Device device) {
  auto generator = training_generator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

// False, with the generator left alone, when `state` is another kind of generator's (a run
// resumed on another device: a CPU generator's state is 5056 bytes, a CUDA one's 16).
bool restore_rng_state(torch::Device device, const torch::Tensor& state) {
  auto generator = training_generator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  if (state.sizes() != generator.get_state().sizes()) return false;
  generator.set_state(state);
  return true;
}

}  // namespace

void check_run_dir(const TrainRequest& request) {
  const fs::path dir(request.run_dir);
  if (request.resume) {
    if (!fs::exists(dir / "checkpoints" / "last.pt")) {
      throw std::invalid_argument("--resume " + request.run_dir + ": no checkpoint to resume from (" +
                                  (dir / "checkpoints" / "last.pt").string() + " not found)");
    }
    return;
  }
  const bool holds_run = fs::exists(dir / "config.yaml") || fs::exists(dir / "checkpoints");
  if (holds_run && !request.overwrite) {
    throw std::invalid_argument("run directory " + request.run_dir + " already holds a run; pass --resume " +
                                request.run_dir +
                                " to continue it, --overwrite to replace it, or --run-dir to choose another");
  }
}

namespace {

std::string metrics_row(const EpochEnd& e) {
  return fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6f},{:.3f},{:.1f},{:.6g},{},{:.6f},{:.6g}\n", e.epoch,
                     e.train_value, e.validation.value, e.validation.kl, e.validation.rec, e.seconds,
                     e.examples_per_s, e.lr, e.skipped, e.train_objective, e.kl_weight);
}

Score elbo_score(LatentVariableModel& model, const torch::Tensor& x, int64_t batch_size) {
  const ElboSummary elbo = evaluate_elbo(model, x, batch_size);
  Score score;
  score.value = elbo.elbo;
  score.std_error = elbo.elbo_std_error;
  score.kl = elbo.kl;
  score.rec = elbo.rec;
  return score;
}

// The default data: config.data's image set; validation and test binarised once with their fixed
// seeds, training batches binarised per use.
TrainingData image_training_data(const config::ExperimentConfig& cfg, torch::Device device) {
  auto dataset =
      std::make_shared<const data::ImageDataset>(data::load_image_dataset(cfg.data, device, cfg.train.seed));
  TrainingData d;
  d.train = dataset->train.images;
  const bool has_validation = dataset->validation.size() > 0;
  d.validation = data::fixed_binarization(has_validation ? dataset->validation.images : dataset->train.images,
                                          dataset->binarization, data::kValidationBinarizationSeed);
  d.test = data::fixed_binarization(dataset->test.images, dataset->binarization, data::kTestBinarizationSeed);
  d.data_shape = {1, dataset->height, dataset->width};
  d.description =
      fmt::format("{} train / {} val examples", dataset->train.size(), dataset->validation.size());
  const data::Binarization binarization = dataset->binarization;
  d.prepare = [binarization](const torch::Tensor& batch) { return data::prepare_batch(batch, binarization); };
  d.images = std::move(dataset);
  return d;
}

// What made a step non-finite, for the error message: the loss, or the first parameter whose
// gradient holds a NaN or an infinity.
std::string nonfinite_quantity(double loss, torch::nn::Module& model) {
  if (!std::isfinite(loss)) return fmt::format("loss ({})", loss);
  for (const auto& item : model.named_parameters()) {
    const auto& grad = item.value().grad();
    if (grad.defined() && !torch::isfinite(grad).all().item<bool>()) {
      return fmt::format("gradient of {} ({} non-finite of {} entries)", item.key(),
                         (~torch::isfinite(grad)).sum().item<int64_t>(), grad.numel());
    }
  }
  return "gradient norm";
}

// One step's totals over every process of a data-parallel group.
struct StepTotals {
  double loss = 0;       // the global batch's mean loss
  double value_sum = 0;  // Σ of the objective's value over the global batch
  int stop_signal = 0;   // the signal any process was asked to stop by (SIGINT first), or 0
};

// The data-parallel exchange after a step's backward pass (lvm/train/data_parallel.h): this
// process's gradient of the mean over its `rows` of the global batch of `global_rows`, weighted
// by rows / global_rows and summed over the group, is the gradient of the global batch's mean.
StepTotals exchange_step(DataParallel& group, FlatAdam& optimizer, const ObjectiveResult& result,
                         int64_t rows, int64_t global_rows, const std::string& where) {
  const double share = static_cast<double>(rows) / static_cast<double>(global_rows);
  torch::Tensor gradient = optimizer.flat_gradient();
  gradient.mul_(share);
  group.all_reduce_sum(gradient, "the gradients of " + where);
  optimizer.set_flat_gradient(gradient);
  // How many processes were asked to stop by SIGINT, and by anything else.
  const int signal = stop_requested();
  const auto stops = torch::tensor(
      {signal == SIGINT ? 1.0 : 0.0, signal != 0 && signal != SIGINT ? 1.0 : 0.0}, torch::kDouble);
  auto totals = torch::cat(
      {torch::stack({result.loss.detach().to(torch::kDouble) * share, result.value.sum().to(torch::kDouble)})
           .cpu(),
       stops});
  group.all_reduce_sum(totals, "the loss of " + where);
  StepTotals out;
  out.loss = totals[0].item<double>();
  out.value_sum = totals[1].item<double>();
  out.stop_signal = totals[2].item<double>() > 0 ? SIGINT : totals[3].item<double>() > 0 ? SIGTERM : 0;
  return out;
}

// What the trainer writes into the run directory. A process that does not write (one of several
// data-parallel processes other than the first, TrainRequest::writes) reads checkpoints but
// writes nothing.
class RunFiles {
 public:
  RunFiles(const fs::path& dir, bool enabled) : dir_(dir), enabled_(enabled) {
    if (enabled_) fs::create_directories(dir_ / "checkpoints");
  }
  bool enabled() const { return enabled_; }
  std::string checkpoint_path(const std::string& name) const {
    return (dir_ / "checkpoints" / (name + ".pt")).string();
  }
  void write(const std::string& name, const std::string& content) const {
    if (enabled_) util::write_file_atomic((dir_ / name).string(), content);
  }
  void checkpoint(const std::string& name, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                  const CheckpointState& state) const {
    if (enabled_) save_checkpoint(checkpoint_path(name), model, optimizer, state);
  }

 private:
  fs::path dir_;
  bool enabled_;
};

}  // namespace

TrainSummary train(const TrainRequest& request) {
  std::ostream& log = request.log != nullptr ? *request.log : std::cerr;
  config::ExperimentConfig cfg = request.config;
  const TrainHooks& hooks = request.hooks;
  const ModelSpec& spec = model_spec(cfg.model.type());
  if (!spec.objective) {
    throw std::invalid_argument("train(): model.type " + cfg.model.type() +
                                " has no training objective for the gradient trainer; it is fitted by its "
                                "own fit (run_training calls it)");
  }
  if (hooks.metrics_header.empty() != !hooks.metrics_row) {
    throw std::invalid_argument("train(): TrainHooks::metrics_header and metrics_row come together");
  }
  // A process that writes nothing may join a run directory the writer has set up already.
  if (request.writes || request.resume) check_run_dir(request);

  // threads: 0 (all cores) means this process's share of them when several share the machine.
  const int64_t thread_budget =
      runtime::threads_of_process(cfg.threads, request.parallel ? request.parallel->local_world_size() : 1);
  const auto threads = runtime::configure_threads(thread_budget, cfg.torch_threads, cfg.blas_threads);
  const torch::Device device = runtime::resolve_device(cfg.device);
  torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));

  const TrainingData data = hooks.data ? hooks.data(cfg, device) : image_training_data(cfg, device);
  check_training_memory(cfg, data.data_shape, device);
  auto model = make_model(cfg.model, data.data_shape);
  if (data.images && model->needs_binary_data() && !data.images->binary && !cfg.data.bernoulli_on_grey) {
    throw std::invalid_argument(
        "model.type " + cfg.model.type() +
        " has a Bernoulli likelihood, which on grey-level images is a cross-entropy, not a likelihood; set "
        "data.binarize to dynamic or static, or data.bernoulli_on_grey: true to accept it");
  }
  model->to(device);
  DataParallel* const parallel = request.parallel.get();
  const Objective objective = request.objective ? request.objective : spec.objective(cfg.model.options());
  FlatAdam optimizer(model->parameters(), optimizer_options(cfg.train));
  const auto validate = [&](const torch::Tensor& x) {
    return hooks.validate ? hooks.validate(*model, x) : elbo_score(*model, x, cfg.train.eval_batch_size);
  };
  const std::string& score_label = hooks.validation_label;

  const RunFiles files(request.run_dir, request.writes);
  const std::string config_yaml = config::to_yaml(cfg);

  CheckpointState state;
  state.metrics_csv = (hooks.metrics_row ? hooks.metrics_header : std::string(kMetricsHeader)) + "\n";
  if (request.resume) {
    // Adam's moments arrive on the parameters' device (load_adam_state).
    state = load_checkpoint(files.checkpoint_path("last"), *model, &optimizer);
    if (state.rng_state.defined() && !restore_rng_state(device, state.rng_state)) {
      log << fmt::format(
          "note: the checkpoint's random state is another device's generator's; on {} the "
          "training noise continues from this device's own generator (the run is not "
          "bit-identical to one that stayed on one device)\n",
          device.str());
    }
    log << fmt::format(
        "resuming {} after epoch {}{} (best {} {:.3f} at epoch {})\n", request.run_dir, state.epoch,
        state.step > 0 ? fmt::format(" and {} steps of epoch {}", state.step, state.epoch + 1) : "",
        score_label, state.best_value, state.best_epoch);
  } else if (hooks.initialize) {
    hooks.initialize(*model, data);
  }
  // Every process starts from the same weights: the first's (a resume reads one checkpoint
  // everywhere, a fresh start draws from one seed; this makes sure of it).
  if (parallel != nullptr) broadcast_parameters(model->parameters(), *parallel);
  state.config_yaml = config_yaml;
  state.data_shape = data.data_shape;
  files.write("config.yaml", config_yaml);
  files.write("metrics.csv", state.metrics_csv);

  const auto progress_mode = parse_progress_mode(cfg.output.progress);
  Progress progress(progress_mode, log);
  log << fmt::format(
      "training {} ({} parameters) on {} ({} torch + {} BLAS threads): {}\n", cfg.name,
      [&] {
        int64_t n = 0;
        for (const auto& p : model->parameters()) n += p.numel();
        return n;
      }(),
      device.str(), threads.torch_threads, threads.blas_threads, data.description);

  // Pictures of image models only, and only by the process that writes (pictures are files too).
  std::optional<TrainingSnapshots> snapshots;
  if (data.images && files.enabled()) snapshots.emplace(cfg, *data.images, request.run_dir);
  const int64_t n_train = data.train.size(0);
  const int64_t batch_size = std::min(cfg.train.batch_size, n_train);
  if (parallel != nullptr) check_batches_split(n_train, batch_size, parallel->world_size());
  const bool skip_nonfinite = cfg.train.on_nonfinite == "skip";
  const auto parameters = model->parameters();
  const std::string last_path = files.checkpoint_path("last");
  double total_seconds = 0, total_examples = 0;
  int64_t skips_in_a_row = 0;
  // Data-parallel: time spent in the exchanges, over the steps of this process.
  double exchange_seconds = 0;
  int64_t exchanges = 0;
  // A stop request as the processes agree on it (one process: this one's), and its signal.
  int agreed_stop_signal = 0;
  const auto stopping_now = [&] {
    return parallel != nullptr ? agreed_stop_signal != 0 : stop_requested() != 0;
  };
  const auto stop_signal = [&] { return parallel != nullptr ? agreed_stop_signal : stop_requested(); };
  // For errors that stop the run: what last.pt still holds.
  const auto checkpoint_kept = [&] {
    if (!files.enabled()) return std::string("stopped (this process writes no checkpoints)");
    if (state.step > 0)
      return fmt::format("stopped without writing checkpoints: {} still holds epoch {} step {}", last_path,
                         state.epoch + 1, state.step);
    if (state.epoch > 0)
      return fmt::format("stopped without writing checkpoints: {} still holds epoch {}", last_path,
                         state.epoch);
    return std::string("stopped before the first checkpoint");
  };
  for (int64_t epoch = state.epoch; epoch < cfg.train.epochs; ++epoch) {
    const double lr = learning_rate(cfg.train, epoch);
    set_learning_rate(optimizer, lr);
    model->train();
    const auto batches = data::epoch_batches(n_train, batch_size, cfg.train.seed, epoch, true, device);
    const int64_t n_steps = static_cast<int64_t>(batches.size());
    // A checkpoint written mid-epoch carries the epoch's running totals: resuming from it adds the
    // remaining steps to the very same sums, so the epoch's numbers come out as without the stop.
    torch::Tensor value_sum =
        torch::full({}, state.epoch_value_sum, torch::TensorOptions().dtype(torch::kDouble).device(device));
    int64_t seen = state.epoch_examples;
    double objective_sum = state.epoch_objective_sum;
    double kl_weight = 1;
    bool surrogate = false;
    double epoch_seconds = state.epoch_seconds;
    progress.start(fmt::format("epoch {}/{}", epoch + 1, cfg.train.epochs), n_train, "ex");
    auto start = std::chrono::steady_clock::now();
    for (int64_t step = state.step; step < n_steps; ++step) {
      const int64_t global_step = epoch * n_steps + step + 1;
      const auto batch = data.train.index_select(0, batches[step]);
      // Data-parallel: the whole global batch is prepared (its binarisation drawn as by one
      // process), then this process keeps its rows and draws its noise under a BatchShard.
      const auto prepared = data.prepare ? data.prepare(batch) : batch;
      const RowSlice rows = parallel != nullptr
                                ? shard_of_batch(prepared.size(0), parallel->rank(), parallel->world_size())
                                : RowSlice{0, prepared.size(0)};
      const auto x = parallel != nullptr ? prepared.narrow(0, rows.offset, rows.rows) : prepared;
      optimizer.zero_grad();
      const ObjectiveResult result = [&] {
        std::optional<runtime::BatchShard> shard;
        if (parallel != nullptr) shard.emplace(rows.offset, rows.rows, prepared.size(0));
        return objective(*model, x, TrainingClock{global_step, n_steps});
      }();
      result.backward();
      if (request.after_backward) request.after_backward(parameters);
      if (util::fault_hits("nan_gradient")) parameters.front().grad().fill_(NAN);
      util::hang_point("hang_before_exchange");
      std::optional<StepTotals> totals;
      if (parallel != nullptr) {
        const auto exchange_start = std::chrono::steady_clock::now();
        totals = exchange_step(*parallel, optimizer, result, rows.rows, prepared.size(0),
                               fmt::format("epoch {}, step {}", epoch + 1, step + 1));
        agreed_stop_signal = totals->stop_signal;
        exchange_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - exchange_start).count();
        ++exchanges;
      }
      // One host sync per step (loss and gradient norm together): the price of naming the exact
      // step a non-finite value appears at, before it reaches the parameters.
      const auto checks =
          torch::stack({result.loss.detach().to(torch::kDouble), optimizer.gradient_norm()}).cpu();
      const double loss = totals ? totals->loss : checks[0].item<double>();
      const double grad_norm = checks[1].item<double>();
      const int64_t batch_rows = prepared.size(0);  // the global batch's
      const bool finite = std::isfinite(loss) && std::isfinite(grad_norm);
      util::crash_point("step");
      if (!finite) {
        const std::string what = fmt::format(
            "non-finite {} at epoch {}, step {} of {} (global step {}, batch index {}, {} examples)",
            nonfinite_quantity(loss, *model), epoch + 1, step + 1, n_steps, global_step, step, batch_rows);
        if (!skip_nonfinite) {
          throw TrainingError(fmt::format("{}; {} (train.on_nonfinite: skip would skip such batches)", what,
                                          checkpoint_kept()));
        }
        optimizer.zero_grad();
        ++state.epoch_skipped;
        if (++skips_in_a_row >= cfg.train.max_skips_in_a_row) {
          throw TrainingError(
              fmt::format("{}: {} batches in a row were non-finite (train.max_skips_in_a_row); "
                          "stopped without writing checkpoints",
                          what, skips_in_a_row));
        }
        progress.message(fmt::format("skipped: {} (train.on_nonfinite: skip)", what));
      } else {
        skips_in_a_row = 0;
        // The norm read above, rather than clip_grad_norm_ computing it again.
        if (cfg.train.grad_clip > 0) optimizer.clip_gradients(grad_norm, cfg.train.grad_clip);
        optimizer.step();
        value_sum +=
            totals ? torch::full_like(value_sum, totals->value_sum) : result.value.sum().to(torch::kDouble);
        objective_sum -= loss * static_cast<double>(batch_rows);
        seen += batch_rows;
      }
      kl_weight = result.kl_weight;
      surrogate = surrogate || result.surrogate;
      progress.update(seen, fmt::format("loss {:.2f}", loss));
      if (util::fault_hits("sigint")) std::raise(SIGINT);

      // Mid-epoch checkpoints: on a stop request, and every train.checkpoint_every steps. The last
      // step of the epoch is left to the epoch-end checkpoint below.
      const bool stopping = stopping_now();
      const bool periodic = cfg.train.checkpoint_every > 0 && global_step % cfg.train.checkpoint_every == 0;
      if ((stopping || periodic) && step + 1 < n_steps) {
        const auto now = std::chrono::steady_clock::now();
        epoch_seconds += std::chrono::duration<double>(now - start).count();
        start = now;
        state.step = step + 1;
        state.epoch_value_sum = value_sum.item<double>();
        state.epoch_objective_sum = objective_sum;
        state.epoch_examples = seen;
        state.epoch_seconds = epoch_seconds;
        state.rng_state = rng_state(device);
        files.checkpoint("last", *model, &optimizer, state);
        if (stopping) {
          progress.finish(fmt::format("epoch {:>3}/{}  stopped after step {} of {}", epoch + 1,
                                      cfg.train.epochs, step + 1, n_steps));
          throw TrainingInterrupted(
              fmt::format(
                  "stopped by signal {} at epoch {}, step {} of {}; {} holds this point: continue with "
                  "lvm train --resume {}",
                  stop_signal(), epoch + 1, step + 1, n_steps, last_path, request.run_dir),
              stop_signal());
        }
      }
    }
    epoch_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double train_elbo = seen > 0 ? value_sum.item<double>() / static_cast<double>(seen) : NAN;
    const double train_objective = seen > 0 ? objective_sum / static_cast<double>(seen) : NAN;
    const double examples_per_s = static_cast<double>(seen) / epoch_seconds;
    total_seconds += epoch_seconds;
    total_examples += static_cast<double>(seen);

    EpochEnd end;
    end.epoch = epoch + 1;
    end.train_value = train_elbo;
    end.train_objective = train_objective;
    end.kl_weight = kl_weight;
    end.validation = validate(data.validation);
    end.seconds = epoch_seconds;
    end.examples_per_s = examples_per_s;
    end.lr = lr;
    end.skipped = state.epoch_skipped;
    const Score& val = end.validation;
    if (!std::isfinite(val.value)) {
      throw TrainingError(
          fmt::format("non-finite {} after epoch {}; {}", score_label, epoch + 1, checkpoint_kept()));
    }
    state.epoch = epoch + 1;
    state.step = 0;
    state.epoch_value_sum = 0;
    state.epoch_objective_sum = 0;
    state.epoch_examples = 0;
    state.epoch_seconds = 0;
    state.epoch_skipped = 0;
    state.metrics_csv += hooks.metrics_row ? hooks.metrics_row(*model, end) : metrics_row(end);
    state.rng_state = rng_state(device);
    const bool improved = val.value > state.best_value;
    if (improved) {
      state.best_value = val.value;
      state.best_epoch = epoch + 1;
    }
    // best.pt before last.pt: last.pt is what --resume reads, so writing it last commits the
    // epoch. Killed in between, the resumed run replays the epoch and writes the same best.pt
    // again; the other order would leave a best.pt that nothing rewrites.
    if (improved) files.checkpoint("best", *model, &optimizer, state);
    const auto& keep = request.keep_epochs;
    if (std::find(keep.begin(), keep.end(), epoch + 1) != keep.end())
      files.checkpoint(fmt::format("epoch_{:04d}", epoch + 1), *model, &optimizer, state);
    files.checkpoint("last", *model, &optimizer, state);
    files.write("metrics.csv", state.metrics_csv);
    if (snapshots) snapshots->after_epoch(*model, epoch + 1);
    progress.finish(fmt::format(
        "epoch {:>3}/{}  train {:9.3f}{}  {} {:9.3f}{}  {:7.0f} ex/s  {:6.1f} s{}{}", epoch + 1,
        cfg.train.epochs, train_elbo,
        surrogate ? fmt::format(" (objective {:9.3f}, β {:.3g})", train_objective, kl_weight) : "",
        score_label, val.value, std::isnan(val.kl) ? "" : fmt::format(" (KL {:6.2f})", val.kl),
        examples_per_s, epoch_seconds, end.skipped > 0 ? fmt::format("  {} skipped", end.skipped) : "",
        improved ? "  *best" : ""));
    if (stopping_now() && epoch + 1 < cfg.train.epochs) {
      throw TrainingInterrupted(fmt::format("stopped by signal {} after epoch {}; {} holds it: continue with "
                                            "lvm train --resume {}",
                                            stop_signal(), epoch + 1, last_path, request.run_dir),
                                stop_signal());
    }
  }

  // Final numbers come from the best checkpoint, on the test split (a process that does not write
  // has no best.pt of its own: it reports its final weights).
  if (files.enabled()) load_checkpoint(files.checkpoint_path("best"), *model, nullptr);
  TrainSummary summary;
  summary.epochs = state.epoch;
  summary.best_epoch = state.best_epoch;
  summary.val_elbo = state.best_value;
  summary.seconds = total_seconds;
  summary.examples_per_s = total_seconds > 0 ? total_examples / total_seconds : 0.0;
  summary.device = device.str();
  summary.torch_threads = threads.torch_threads;
  summary.blas_threads = threads.blas_threads;
  // Of a data-parallel group, the writer reports the test score; the others are done.
  if (parallel != nullptr && !files.enabled()) return summary;
  if (hooks.summarize) {
    files.write("summary.json", hooks.summarize(*model, summary).dump());
    return summary;
  }

  if (parallel != nullptr) {
    // What the exchanges cost: the gradient (float) and four doubles per step.
    int64_t values = 0;
    for (const auto& p : parameters) values += p.numel();
    summary.processes = parallel->world_size();
    summary.exchange_bytes_per_step = values * static_cast<int64_t>(sizeof(float)) + 4 * 8;
    summary.exchange_ms_per_step =
        exchanges > 0 ? 1e3 * exchange_seconds / static_cast<double>(exchanges) : 0;
    log << fmt::format(
        "data-parallel over {} processes: {} bytes summed per step, {:.3f} ms per step in exchanges\n",
        summary.processes, summary.exchange_bytes_per_step, summary.exchange_ms_per_step);
  }
  const ElboSummary test = evaluate_elbo(*model, data.test, cfg.train.eval_batch_size);
  summary.test_elbo = test.elbo;
  summary.test_kl = test.kl;
  summary.test_rec = test.rec;

  auto json = util::Json::object();
  json.set("name", cfg.name)
      .set("epochs", summary.epochs)
      .set("best_epoch", summary.best_epoch)
      .set("val_elbo", summary.val_elbo)
      .set("test_elbo", summary.test_elbo)
      .set("test_elbo_std_error", test.elbo_std_error)
      .set("test_kl", summary.test_kl)
      .set("test_rec", summary.test_rec)
      .set("examples_per_s", summary.examples_per_s)
      .set("train_seconds", summary.seconds)
      .set("device", summary.device)
      .set("torch_threads", summary.torch_threads)
      .set("blas_threads", summary.blas_threads);
  if (parallel != nullptr) {
    json.set("processes", summary.processes)
        .set("exchange_bytes_per_step", summary.exchange_bytes_per_step)
        .set("exchange_ms_per_step", summary.exchange_ms_per_step);
  }
  files.write("summary.json", json.dump());
  log << fmt::format(
      "best epoch {}: val ELBO {:.3f}; test ELBO {:.3f} ± {:.3f} (KL {:.3f}){}\n", summary.best_epoch,
      summary.val_elbo, summary.test_elbo, test.elbo_std_error, summary.test_kl,
      files.enabled() ? "; wrote " + (fs::path(request.run_dir) / "summary.json").string() : "");
  return summary;
}

util::Json run_training(const TrainRequest& request) {
  const ModelSpec& spec = model_spec(request.config.model.type());
  if (spec.fit && request.parallel != nullptr) {
    throw std::invalid_argument(
        "model.type " + request.config.model.type() +
        " is fitted by its own fit, which runs in one process; train it without --nproc");
  }
  if (spec.fit) return spec.fit(request);
  const TrainSummary summary = train(request);
  auto line = util::Json::object();
  line.set("epochs", summary.epochs)
      .set("val_elbo", summary.val_elbo)
      .set("test_elbo", summary.test_elbo)
      .set("examples_per_s", summary.examples_per_s);
  return line;
}

}  // namespace lvm::train
