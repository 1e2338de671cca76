#include "lvm/models/gmm/gmm_trainer.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <limits>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/data/vector_dataset.h"
#include "lvm/models/gmm/gaussian_mixture.h"
#include "lvm/models/gmm/gmm_config.h"
#include "lvm/models/gmm/gmm_em.h"
#include "lvm/models/registry.h"
#include "lvm/runtime/runtime.h"
#include "lvm/train/checkpoint.h"
#include "lvm/train/progress.h"
#include "lvm/train/stop_signal.h"
#include "lvm/util/fault.h"
#include "lvm/util/files.h"
#include "lvm/util/json.h"

namespace fs = std::filesystem;

namespace lvm::train {

const char* const kGmmMetricsHeader = "step,train_log_likelihood,test_log_likelihood,seconds";

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Mean log p(x) and its standard error over x [N, D], in chunks; NaN for an empty split.
std::pair<double, double> evaluate(GaussianMixture& model, const torch::Tensor& x) {
  const int64_t n = x.size(0);
  if (n == 0) return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  const int64_t rows = model.rows_per_chunk();
  for (int64_t start = 0; start < n; start += rows)
    parts.push_back(
        model.exact_log_marginal(x.slice(0, start, std::min(start + rows, n)))->to(torch::kDouble));
  const auto values = torch::cat(parts);
  const double mean = values.mean().item<double>();
  const double std_error = n > 1 ? values.std().item<double>() / std::sqrt(static_cast<double>(n)) : 0.0;
  return {mean, std_error};
}

std::string metrics_row(int64_t step, double train_ll, double test_ll, double seconds) {
  return fmt::format("{},{:.8f},{},{:.4f}\n", step, train_ll,
                     std::isnan(test_ll) ? "" : fmt::format("{:.8f}", test_ll), seconds);
}

GaussianMixture& as_mixture(LatentVariableModel& model) { return dynamic_cast<GaussianMixture&>(model); }

void check_enough_points(const data::VectorDataset& dataset, int64_t components) {
  if (dataset.train.size(0) < components) {
    throw std::invalid_argument(fmt::format(
        "model.components: {} components but only {} training points ({}): a mixture needs at least as many "
        "points as components",
        components, dataset.train.size(0), dataset.description));
  }
}

// pca.pt holds the projection of a data.pca_dim run; a run without one leaves none behind (from an
// overwritten run).
void write_projection(const fs::path& run_dir, const data::VectorDataset& dataset) {
  if (dataset.pca) {
    data::save_pca((run_dir / "pca.pt").string(), *dataset.pca);
  } else {
    fs::remove(run_dir / "pca.pt");
  }
}

// The summary's numbers of the fitted model in `model` (EM's kept fit, or the gradient fit's best.pt).
void score_fit(GmmSummary& summary, GaussianMixture& model, const data::VectorDataset& dataset) {
  summary.train_log_likelihood = evaluate(model, dataset.train).first;
  const auto [test_ll, test_se] = evaluate(model, dataset.test);
  summary.test_log_likelihood = test_ll;
  summary.test_std_error = test_se;
  summary.bic = bic(model, dataset.train);
  summary.n_parameters = model.num_free_parameters();
  summary.n_train = dataset.train.size(0);
  summary.n_test = dataset.test.size(0);
  summary.dim = dataset.dim();
}

// summary.json of either fit: the keys tests and bench/gmm_vs_sklearn.py read (bic, fit_seconds, ...).
util::Json summary_json(const GmmSummary& summary, const config::ExperimentConfig& cfg,
                        const data::VectorDataset& dataset, const std::string& device, int64_t torch_threads,
                        int64_t blas_threads) {
  const GmmConfig& options = cfg.model.get<GmmConfig>();
  const bool em = summary.fit == "em";
  auto json = util::Json::object();
  json.set("name", cfg.name)
      .set("model", "gmm")
      .set("fit", summary.fit)
      .set("components", options.components)
      .set("covariance", options.covariance)
      .set("reg_covar", options.reg_covar)
      .set("data", dataset.description)
      .set("dim", summary.dim)
      .set("n_train", summary.n_train)
      .set("n_test", summary.n_test)
      .set(em ? "em_steps" : "epochs", summary.steps);
  if (em) {
    auto restarts = util::Json::array();
    for (double ll : summary.restart_log_likelihoods) restarts.push(ll);
    json.set("converged", summary.converged)
        .set("n_init", static_cast<int64_t>(summary.restart_log_likelihoods.size()))
        .set("best_restart", summary.best_restart)
        .set("restart_train_log_likelihoods", restarts);
  }
  json.set("train_log_likelihood", summary.train_log_likelihood)
      .set("test_log_likelihood", summary.test_log_likelihood)
      .set("test_log_likelihood_std_error", summary.test_std_error)
      .set("bic", summary.bic)
      .set("n_parameters", summary.n_parameters)
      .set("init_seconds", summary.init_seconds)
      .set("fit_seconds", summary.fit_seconds)
      .set("device", device)
      .set("torch_threads", torch_threads)
      .set("blas_threads", blas_threads);
  return json;
}

void log_summary(std::ostream& log, const GmmSummary& summary, const std::string& written) {
  log << fmt::format(
      "train log-lik {:.5f}, test log-lik {:.5f} ± {:.5f} nats per point; BIC {:.2f}; {} {}; fit {:.3f} "
      "s{}\n",
      summary.train_log_likelihood, summary.test_log_likelihood, summary.test_std_error, summary.bic,
      summary.steps, summary.fit == "em" ? "EM steps" : "epochs", summary.fit_seconds,
      written.empty() ? "" : "; wrote " + written);
}

// model.fit: em. Not resumable (short and deterministic); a stop between steps keeps the fit so far.
GmmSummary fit_by_em(const TrainRequest& request) {
  std::ostream& log = request.log != nullptr ? *request.log : std::cerr;
  const config::ExperimentConfig cfg = request.config;
  const GmmConfig& options = cfg.model.get<GmmConfig>();
  if (request.resume) {
    throw std::invalid_argument("--resume " + request.run_dir +
                                ": a model.fit: em run is short and deterministic and keeps no intermediate "
                                "checkpoints; run it again (model.fit: gradient runs can be resumed)");
  }
  check_run_dir(request);

  const auto threads = runtime::configure_threads(cfg.threads, cfg.torch_threads, cfg.blas_threads);
  const torch::Device device = runtime::resolve_device(cfg.device);
  torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));

  const auto dataset = data::load_vector_dataset(cfg.data, device, cfg.train.seed);
  const auto& train_x = dataset.train;
  const auto& test_x = dataset.test;
  auto model = std::dynamic_pointer_cast<GaussianMixture>(make_model(cfg.model, {dataset.dim()}));
  model->to(device);
  check_enough_points(dataset, model->latent_dim());

  const fs::path run_dir(request.run_dir);
  const fs::path checkpoint_dir = run_dir / "checkpoints";
  fs::create_directories(checkpoint_dir);
  const std::string config_yaml = config::to_yaml(cfg);
  util::write_file_atomic((run_dir / "config.yaml").string(), config_yaml);
  write_projection(run_dir, dataset);

  CheckpointState state;
  state.metrics_csv = std::string(kGmmMetricsHeader) + "\n";
  state.config_yaml = config_yaml;
  state.data_shape = {dataset.dim()};
  util::write_file_atomic((run_dir / "metrics.csv").string(), state.metrics_csv);

  const bool talk = parse_progress_mode(cfg.output.progress) != ProgressMode::kNone;
  log << fmt::format(
      "fitting {}: {} components, {} covariances, by EM ({} torch + {} BLAS threads, {}) on {}: "
      "{} train / {} test points of dimension {}\n",
      cfg.name, model->latent_dim(), options.covariance, threads.torch_threads, threads.blas_threads,
      device.str(), dataset.description, train_x.size(0), test_x.size(0), dataset.dim());

  GmmSummary summary;
  summary.fit = options.fit;
  const auto fit_start = Clock::now();
  double evaluation_seconds = 0;  // spent on metrics inside the fit loop, taken out of fit_seconds
  const GmmInit init = parse_gmm_init(options.init);
  EmOptions em_options;
  em_options.max_steps = options.em_max_steps;
  em_options.tol = options.em_tol;
  // n_init fits from seeds seed, seed + 1, ...; the one with the highest training log-likelihood
  // is kept, with its metrics rows.
  EmResult best;
  std::string best_rows;
  std::vector<torch::Tensor> best_parameters;
  for (int64_t restart = 0; restart < options.n_init; ++restart) {
    const auto init_start = Clock::now();
    initialize_gmm(*model, train_x, init, static_cast<uint64_t>(cfg.train.seed + restart));
    summary.init_seconds += seconds_since(init_start);
    const std::string prefix =
        options.n_init > 1 ? fmt::format("restart {}/{}: ", restart + 1, options.n_init) : "";
    std::string rows;
    const auto result = fit_em(*model, train_x, em_options, [&](const EmStep& step) {
      const auto start = Clock::now();
      const double test_ll = evaluate(*model, test_x).first;
      rows += metrics_row(step.step, step.mean_log_likelihood, test_ll,
                          seconds_since(fit_start) - evaluation_seconds);
      if (talk) {
        log << fmt::format("{}EM step {:>4}  train log-lik {:10.5f} ({:+.2e})  test {:10.5f}\n", prefix,
                           step.step, step.mean_log_likelihood, step.improvement, test_ll);
      }
      evaluation_seconds += seconds_since(start);
      if (util::fault_hits("sigint")) std::raise(SIGINT);
      // A stop between EM steps keeps the fit in progress (this restart's parameters and rows)
      // in last.pt and best.pt (for EM, best is the last step), in the format of a finished fit.
      if (stop_requested() != 0) {
        CheckpointState stopped = state;
        stopped.metrics_csv += rows;
        stopped.epoch = step.step;
        stopped.best_epoch = step.step;
        stopped.best_value = step.mean_log_likelihood;
        save_checkpoint((checkpoint_dir / "best.pt").string(), *model, nullptr, stopped);
        save_checkpoint((checkpoint_dir / "last.pt").string(), *model, nullptr, stopped);
        util::write_file_atomic((run_dir / "metrics.csv").string(), stopped.metrics_csv);
        throw TrainingInterrupted(
            fmt::format(
                "stopped by signal {} at EM step {}{}; {} holds the fit so far (train log-lik {:.5f}); "
                "an EM run is not resumable: run lvm train again with --overwrite to fit it to the end",
                stop_requested(), step.step,
                options.n_init > 1 ? fmt::format(" of restart {}/{}", restart + 1, options.n_init) : "",
                (checkpoint_dir / "last.pt").string(), step.mean_log_likelihood),
            stop_requested());
      }
    });
    if (talk) {
      log << fmt::format("{}EM {} after {} steps: train log-lik {:.5f}\n", prefix,
                         result.converged ? "converged" : "stopped (em_max_steps)", result.steps,
                         result.mean_log_likelihood);
    }
    summary.restart_log_likelihoods.push_back(result.mean_log_likelihood);
    if (restart == 0 || result.mean_log_likelihood > best.mean_log_likelihood) {
      best = result;
      best_rows = rows;
      summary.best_restart = restart + 1;
      best_parameters.clear();
      for (const auto& p : model->parameters()) best_parameters.push_back(p.detach().clone());
    }
  }
  {
    torch::NoGradGuard no_grad;
    const auto parameters = model->parameters();
    for (size_t i = 0; i < parameters.size(); ++i) parameters[i].copy_(best_parameters[i]);
  }
  summary.fit_seconds = seconds_since(fit_start) - evaluation_seconds;
  summary.steps = best.steps;
  summary.converged = best.converged;
  state.metrics_csv += best_rows;
  state.epoch = best.steps;
  state.best_epoch = best.steps;
  state.best_value = best.mean_log_likelihood;
  save_checkpoint((checkpoint_dir / "last.pt").string(), *model, nullptr, state);
  save_checkpoint((checkpoint_dir / "best.pt").string(), *model, nullptr, state);
  util::write_file_atomic((run_dir / "metrics.csv").string(), state.metrics_csv);

  score_fit(summary, *model, dataset);
  const std::string summary_path = (run_dir / "summary.json").string();
  util::write_file_atomic(
      summary_path,
      summary_json(summary, cfg, dataset, device.str(), threads.torch_threads, threads.blas_threads).dump());
  log_summary(log, summary, summary_path);
  return summary;
}

// model.fit: gradient. Adam on the exact log-likelihood through the gradient trainer's loop
// (lvm/train/trainer.h), which brings checkpoints, resume, stop signals, the non-finite policy and
// schedules; the hooks give it the vector data, the k-means++ start, validation by the training
// log-likelihood (what picks best.pt), the mixture's metrics columns and its summary.json.
GmmSummary fit_by_gradient(const TrainRequest& request) {
  std::ostream& log = request.log != nullptr ? *request.log : std::cerr;
  const GmmConfig& options = request.config.model.get<GmmConfig>();
  GmmSummary summary;
  summary.fit = options.fit;
  data::VectorDataset dataset;    // loaded by the data hook, on the run's device
  double cumulative_seconds = 0;  // the metrics' seconds column: initialisation and epochs so far

  TrainRequest loop = request;
  TrainHooks& hooks = loop.hooks;
  hooks.data = [&](const config::ExperimentConfig& cfg, torch::Device device) {
    dataset = data::load_vector_dataset(cfg.data, device, cfg.train.seed);
    check_enough_points(dataset, options.components);
    TrainingData d;
    d.train = dataset.train;
    d.validation = dataset.train;  // best.pt: the highest training log-likelihood, as EM's
    d.test = dataset.test;
    d.data_shape = {dataset.dim()};
    d.description = fmt::format(
        "{}: {} train / {} test points of dimension {}; {} components, {} covariances, by gradient ascent",
        dataset.description, dataset.train.size(0), dataset.test.size(0), dataset.dim(), options.components,
        options.covariance);
    return d;
  };
  hooks.initialize = [&](LatentVariableModel& model, const TrainingData& d) {
    if (request.writes) write_projection(request.run_dir, dataset);
    const auto start = Clock::now();
    initialize_gmm(as_mixture(model), d.train, parse_gmm_init(options.init),
                   static_cast<uint64_t>(request.config.train.seed));
    summary.init_seconds = seconds_since(start);
    cumulative_seconds = summary.init_seconds;
  };
  hooks.validate = [](LatentVariableModel& model, const torch::Tensor& x) {
    const auto [mean, std_error] = evaluate(as_mixture(model), x);
    Score score;
    score.value = mean;
    score.std_error = std_error;
    return score;
  };
  hooks.validation_label = "train log-lik";
  hooks.metrics_header = kGmmMetricsHeader;
  hooks.metrics_row = [&](LatentVariableModel& model, const EpochEnd& epoch) {
    cumulative_seconds += epoch.seconds;
    return metrics_row(epoch.epoch, epoch.validation.value, evaluate(as_mixture(model), dataset.test).first,
                       cumulative_seconds);
  };
  hooks.summarize = [&](LatentVariableModel& model, const TrainSummary& trained) {
    summary.steps = trained.epochs;
    summary.fit_seconds = summary.init_seconds + trained.seconds;
    score_fit(summary, as_mixture(model), dataset);
    log_summary(log, summary, request.writes ? (fs::path(request.run_dir) / "summary.json").string() : "");
    return summary_json(summary, request.config, dataset, trained.device, trained.torch_threads,
                        trained.blas_threads);
  };
  train(loop);
  return summary;
}

}  // namespace

GmmSummary train_gmm(const TrainRequest& request) {
  return request.config.model.get<GmmConfig>().fit == "em" ? fit_by_em(request) : fit_by_gradient(request);
}

util::Json gmm_summary_line(const GmmSummary& summary) {
  auto line = util::Json::object();
  line.set(summary.fit == "em" ? "em_steps" : "epochs", summary.steps)
      .set("train_log_likelihood", summary.train_log_likelihood)
      .set("test_log_likelihood", summary.test_log_likelihood)
      .set("bic", summary.bic)
      .set("fit_seconds", summary.fit_seconds);
  return line;
}

}  // namespace lvm::train
