// The Gaussian-mixture trainer: the run directory it writes, EM and gradient fits (the latter in the
// gradient trainer's loop: resuming, stops, the non-finite policy, checkpoint_every), and its errors.

#include "lvm/models/gmm/gmm_trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "lvm/data/csv.h"
#include "lvm/data/pca.h"
#include "lvm/data/vector_dataset.h"
#include "lvm/models/gmm/gaussian_mixture.h"
#include "lvm/models/gmm/gmm_config.h"
#include "lvm/models/gmm/gmm_em.h"
#include "lvm/models/registry.h"
#include "lvm/train/checkpoint.h"
#include "lvm/train/run_dir.h"
#include "lvm/train/stop_signal.h"
#include "lvm/util/fault.h"
#include "tests/testing.h"

namespace lvm::train {
namespace {

config::ExperimentConfig ring_config() {
  config::ExperimentConfig c;
  c.name = "ring";
  c.device = "cpu";
  c.threads = 1;
  c.model.set_type("gmm");
  c.model.get<GmmConfig>().objective = "exact";
  c.model.get<GmmConfig>().components = 8;
  c.model.get<GmmConfig>().em_tol = 1e-6;
  c.model.get<GmmConfig>().em_max_steps = 300;
  c.data.dataset = "synthetic";
  c.data.synthetic = "ring";
  c.data.n_train = 800;
  c.data.n_test = 400;
  c.train.seed = 3;
  c.train.batch_size = 200;
  c.train.lr = 0.03;
  c.output.progress = "none";
  return c;
}

GmmSummary run(const config::ExperimentConfig& c, const std::string& dir, bool resume = false) {
  std::ostringstream log;
  TrainRequest request{c, dir, resume, false, &log};
  return train_gmm(request);
}

TEST(GmmTrainer, EmRunWritesTheRunDirectory) {
  testing::TempDir dir;
  const auto c = ring_config();
  const auto summary = run(c, dir.file("run"));
  EXPECT_EQ(summary.fit, "em");
  EXPECT_TRUE(summary.converged);
  EXPECT_GT(summary.steps, 0);
  EXPECT_EQ(summary.n_train, 800);
  EXPECT_EQ(summary.n_test, 400);
  EXPECT_EQ(summary.n_parameters, 7 + 16 + 24);
  // The true ring's expected log-density: −log 8 − log(2π·0.01) − 1 (the last from E|e|²/2σ² = 1).
  // The fit on 800 points lands within a few standard errors (≈ 0.035) plus its overfitting.
  EXPECT_NEAR(summary.train_log_likelihood, -std::log(8.0) - std::log(2 * M_PI * 0.01) - 1, 0.15);
  EXPECT_NEAR(summary.test_log_likelihood, summary.train_log_likelihood, 0.2);

  const auto rows = testing::csv_cells(testing::read_file(dir.file("run/metrics.csv")));
  ASSERT_EQ(static_cast<int64_t>(rows.size()), summary.steps + 1);
  EXPECT_EQ(rows[0],
            (std::vector<std::string>{"step", "train_log_likelihood", "test_log_likelihood", "seconds"}));
  for (size_t i = 2; i < rows.size(); ++i) EXPECT_GE(std::stod(rows[i][1]), std::stod(rows[i - 1][1]) - 1e-8);

  const auto json = testing::read_file(dir.file("run/summary.json"));
  for (const char* key :
       {"\"model\": \"gmm\"", "\"fit\": \"em\"", "\"em_steps\"", "\"converged\": true",
        "\"train_log_likelihood\"", "\"test_log_likelihood\"", "\"bic\"", "\"fit_seconds\""}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
  }
  EXPECT_EQ(config::parse_config(testing::read_file(dir.file("run/config.yaml")), "config.yaml"), c);

  // The saved model reproduces the summary's numbers.
  auto loaded = load_run(dir.file("run"));
  EXPECT_EQ(loaded.data_dim, 2);
  EXPECT_EQ(loaded.state.epoch, summary.steps);
  auto& gmm = dynamic_cast<GaussianMixture&>(*loaded.model);
  const auto data = data::load_vector_dataset(c.data, torch::kCPU, c.train.seed);
  EXPECT_NEAR(mean_log_likelihood(gmm, data.train), summary.train_log_likelihood, 1e-12);
  EXPECT_NEAR(mean_log_likelihood(gmm, data.test), summary.test_log_likelihood, 1e-12);
  EXPECT_NEAR(bic(gmm, data.train), summary.bic, 1e-9 * std::abs(summary.bic));
}

TEST(GmmTrainer, GradientFitResumesExactlyAndApproachesEm) {
  testing::TempDir dir;
  auto c = ring_config();
  c.model.get<GmmConfig>().fit = "gradient";
  c.train.epochs = 6;
  const auto full = run(c, dir.file("full"));
  EXPECT_EQ(full.steps, 6);
  auto first = c;
  first.train.epochs = 3;
  run(first, dir.file("split"));
  const auto resumed = run(c, dir.file("split"), /*resume=*/true);
  EXPECT_EQ(resumed.train_log_likelihood, full.train_log_likelihood);
  auto deterministic = [&](const std::string& name) {
    auto rows = testing::csv_cells(testing::read_file(dir.file(name + "/metrics.csv")));
    for (auto& r : rows) r.pop_back();  // seconds
    return rows;
  };
  EXPECT_EQ(deterministic("full"), deterministic("split"));
  // From the k-means++ start, a few epochs of Adam keep improving and stay below EM's optimum.
  const auto em = run(ring_config(), dir.file("em"));
  const auto rows = testing::csv_cells(testing::read_file(dir.file("full/metrics.csv")));
  EXPECT_GT(std::stod(rows.back()[1]), std::stod(rows[1][1]));
  EXPECT_LE(full.train_log_likelihood, em.train_log_likelihood + 1e-6);
  EXPECT_GT(full.train_log_likelihood, em.train_log_likelihood - 0.2);
}

// Raises the stop flag as a signal would (no handler needed) and forgets it on scope exit.
struct ScopedStop {
  explicit ScopedStop(int signal) { request_stop(signal); }
  ~ScopedStop() { clear_stop_request(); }
};

TEST(GmmTrainer, AStopBetweenEmStepsKeepsTheFitSoFar) {
  testing::TempDir dir;
  const auto c = ring_config();
  {
    ScopedStop stop(SIGTERM);
    try {
      run(c, dir.file("run"));
      FAIL() << "expected the fit to stop";
    } catch (const TrainingInterrupted& e) {
      EXPECT_EQ(e.signal, SIGTERM);
      EXPECT_NE(std::string(e.what()).find("stopped by signal 15 at EM step 1;"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("not resumable"), std::string::npos) << e.what();
    }
  }
  // One step done: its row in metrics.csv, its parameters in last.pt (and best.pt), no summary.
  const auto rows = testing::csv_cells(testing::read_file(dir.file("run/metrics.csv")));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1][0], "1");
  EXPECT_FALSE(std::filesystem::exists(dir.file("run/summary.json")));
  auto loaded = load_run(dir.file("run"), "last");
  EXPECT_EQ(loaded.state.epoch, 1);
  const auto data = data::load_vector_dataset(c.data, torch::kCPU, c.train.seed);
  const double ll = mean_log_likelihood(dynamic_cast<GaussianMixture&>(*loaded.model), data.train);
  EXPECT_NEAR(ll, std::stod(rows[1][1]), 1e-7);
  EXPECT_NEAR(ll, loaded.state.best_value, 1e-12);
  EXPECT_EQ(load_run(dir.file("run")).state.epoch, 1);  // best.pt
}

TEST(GmmTrainer, AStoppedGradientFitResumesBitIdentically) {
  testing::TempDir dir;
  auto c = ring_config();
  c.model.get<GmmConfig>().fit = "gradient";
  c.train.epochs = 4;
  const auto full = run(c, dir.file("full"));
  {
    ScopedStop stop(SIGINT);
    try {
      run(c, dir.file("split"));
      FAIL() << "expected the fit to stop";
    } catch (const TrainingInterrupted& e) {
      EXPECT_EQ(e.signal, SIGINT);
      // The gradient trainer's loop takes a stop after the step in progress: 800 points in batches
      // of 200 are 4 steps an epoch.
      EXPECT_NE(std::string(e.what()).find("stopped by signal 2 at epoch 1, step 1 of 4;"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("lvm train --resume " + dir.file("split")), std::string::npos)
          << e.what();
    }
  }
  const auto stopped = read_checkpoint_state(dir.file("split/checkpoints/last.pt"));
  EXPECT_EQ(stopped.epoch, 0);
  EXPECT_EQ(stopped.step, 1);
  EXPECT_EQ(stopped.epoch_examples, 200);
  const auto resumed = run(c, dir.file("split"), /*resume=*/true);
  EXPECT_EQ(resumed.steps, 4);
  EXPECT_EQ(resumed.train_log_likelihood, full.train_log_likelihood);
  for (const char* name : {"last", "best"}) {
    const auto a = load_run(dir.file("full"), name).model->parameters();
    const auto b = load_run(dir.file("split"), name).model->parameters();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << name << " parameter " << i;
  }
  auto deterministic = [&](const std::string& name) {
    auto rows = testing::csv_cells(testing::read_file(dir.file(name + "/metrics.csv")));
    for (auto& r : rows) r.pop_back();  // seconds
    return rows;
  };
  EXPECT_EQ(deterministic("full"), deterministic("split"));
}

// Arms LVM_FAULT (lvm/util/fault.h) for the lifetime of the object (this process only).
class ScopedFault {
 public:
  explicit ScopedFault(const std::string& spec) {
    ::setenv("LVM_FAULT", spec.c_str(), 1);
    util::reset_faults();
  }
  ~ScopedFault() {
    ::unsetenv("LVM_FAULT");
    util::reset_faults();
  }
};

config::ExperimentConfig gradient_config(int64_t epochs) {
  auto c = ring_config();
  c.model.get<GmmConfig>().fit = "gradient";
  c.train.epochs = epochs;
  return c;
}

void expect_same_parameters(const std::string& a, const std::string& b) {
  const auto pa = load_run(a, "last").model->parameters();
  const auto pb = load_run(b, "last").model->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
}

// The rows of metrics.csv without the seconds column, which differs run to run.
std::vector<std::vector<std::string>> deterministic_rows(const std::string& run_dir) {
  auto rows = testing::csv_cells(testing::read_file(run_dir + "/metrics.csv"));
  for (auto& r : rows) r.pop_back();
  return rows;
}

// The gradient fit runs in the gradient trainer's loop, so train.on_nonfinite: stop names the step
// and the parameter, and leaves last.pt and best.pt as the last finished epoch wrote them.
TEST(GmmTrainer, ANonFiniteGradientStopsTheGradientFitNamingStepAndParameter) {
  testing::TempDir dir;
  const auto c = gradient_config(3);
  {
    ScopedFault fault("nan_gradient@6");  // epoch 2, step 2 of 4
    try {
      run(c, dir.file("run"));
      FAIL() << "expected a TrainingError";
    } catch (const TrainingError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("non-finite gradient of logits (8 non-finite of 8 entries)"), std::string::npos)
          << what;
      EXPECT_NE(what.find("at epoch 2, step 2 of 4 (global step 6, batch index 1, 200 examples)"),
                std::string::npos)
          << what;
      EXPECT_NE(what.find("still holds epoch 1 (train.on_nonfinite: skip would skip such batches)"),
                std::string::npos)
          << what;
    }
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("run/summary.json")));
  run(gradient_config(1), dir.file("one"));
  EXPECT_EQ(read_checkpoint_state(dir.file("run/checkpoints/last.pt")).epoch, 1);
  EXPECT_EQ(read_checkpoint_state(dir.file("run/checkpoints/best.pt")).epoch, 1);
  expect_same_parameters(dir.file("run"), dir.file("one"));
}

TEST(GmmTrainer, TheSkipPolicySkipsANonFiniteBatchOfTheGradientFit) {
  testing::TempDir dir;
  auto c = gradient_config(3);
  run(c, dir.file("reference"));
  c.train.on_nonfinite = "skip";
  std::ostringstream log;
  GmmSummary skipped;
  {
    ScopedFault fault("nan_gradient@6");
    TrainRequest request{c, dir.file("run"), false, false, &log};
    skipped = train_gmm(request);
  }
  EXPECT_NE(log.str().find("skipped: non-finite gradient of logits"), std::string::npos) << log.str();
  EXPECT_EQ(skipped.steps, 3);
  EXPECT_TRUE(std::isfinite(skipped.train_log_likelihood));
  for (const auto& p : load_run(dir.file("run"), "last").model->parameters())
    EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
  // Epoch 1 is untouched by the skip; epoch 2 made one Adam step fewer, so the fits part there.
  const auto rows = deterministic_rows(dir.file("run"));
  const auto reference = deterministic_rows(dir.file("reference"));
  ASSERT_EQ(rows.size(), 4u);
  ASSERT_EQ(reference.size(), 4u);
  EXPECT_EQ(rows[0], reference[0]);
  EXPECT_EQ(rows[1], reference[1]);
  EXPECT_NE(rows[2][1], reference[2][1]);

  c.train.max_skips_in_a_row = 1;
  ScopedFault fault("nan_gradient@2");
  try {
    run(c, dir.file("strict"));
    FAIL() << "expected a TrainingError";
  } catch (const TrainingError& e) {
    EXPECT_NE(std::string(e.what()).find("1 batches in a row were non-finite (train.max_skips_in_a_row)"),
              std::string::npos)
        << e.what();
  }
}

TEST(GmmTrainer, CheckpointEveryWritesMidEpochCheckpointsOfTheGradientFit) {
  testing::TempDir dir;
  auto c = gradient_config(2);
  run(c, dir.file("reference"));
  c.train.checkpoint_every = 3;
  // What last.pt holds when each step's backward pass is done (before that step's checkpoint).
  std::vector<std::pair<int64_t, int64_t>> seen;  // (epoch, step) of last.pt
  std::ostringstream log;
  TrainRequest request{c, dir.file("run"), false, false, &log};
  request.after_backward = [&](const std::vector<torch::Tensor>&) {
    const std::string last = dir.file("run/checkpoints/last.pt");
    if (!std::filesystem::exists(last)) {
      seen.emplace_back(-1, -1);
      return;
    }
    const auto state = read_checkpoint_state(last);
    seen.emplace_back(state.epoch, state.step);
  };
  const auto summary = train_gmm(request);
  EXPECT_EQ(summary.steps, 2);
  // 4 steps an epoch: global step 3 (epoch 1, step 3) checkpoints mid-epoch, epoch 1 ends with one,
  // global step 6 (epoch 2, step 2) checkpoints mid-epoch again.
  const std::vector<std::pair<int64_t, int64_t>> expected = {{-1, -1}, {-1, -1}, {-1, -1}, {0, 3},
                                                             {1, 0},   {1, 0},   {1, 2},   {1, 2}};
  EXPECT_EQ(seen, expected);
  // The checkpoints do not change the fit, and the last one is an epoch boundary again.
  EXPECT_EQ(read_checkpoint_state(dir.file("run/checkpoints/last.pt")).step, 0);
  expect_same_parameters(dir.file("run"), dir.file("reference"));
  EXPECT_EQ(deterministic_rows(dir.file("run")), deterministic_rows(dir.file("reference")));
}

// Checkpoints written before the gradient fit ran in the gradient trainer's loop hold no random
// generator state (the fit draws no noise); they resume to the same fit.
TEST(GmmTrainer, AGradientFitCheckpointWithoutRandomStateResumes) {
  testing::TempDir dir;
  run(gradient_config(4), dir.file("full"));
  run(gradient_config(2), dir.file("old"));
  for (const char* name : {"last", "best"}) {
    const std::string path = dir.file("old/checkpoints/") + name + ".pt";
    auto model = make_model(gradient_config(2).model, {2});
    torch::optim::Adam adam(model->parameters());
    auto state = load_checkpoint(path, *model, &adam);
    ASSERT_TRUE(state.rng_state.defined());
    state.rng_state = torch::Tensor();
    save_checkpoint(path, *model, &adam, state);
  }
  const auto resumed = run(gradient_config(4), dir.file("old"), /*resume=*/true);
  EXPECT_EQ(resumed.steps, 4);
  expect_same_parameters(dir.file("old"), dir.file("full"));
  EXPECT_EQ(deterministic_rows(dir.file("old")), deterministic_rows(dir.file("full")));
}

TEST(GmmTrainer, SeveralInitialisationsKeepTheBest) {
  testing::TempDir dir;
  auto c = ring_config();
  c.model.get<GmmConfig>().components = 12;  // more components than modes: restarts end in different optima
  c.model.get<GmmConfig>().init = "random";
  c.model.get<GmmConfig>().em_tol = 1e-4;
  const auto once = run(c, dir.file("once"));
  c.model.get<GmmConfig>().n_init = 4;
  const auto four = run(c, dir.file("four"));
  ASSERT_EQ(four.restart_log_likelihoods.size(), 4u);
  // The first restart is the single fit; the kept one is the best of the four.
  EXPECT_EQ(four.restart_log_likelihoods[0], once.train_log_likelihood);
  const double best =
      *std::max_element(four.restart_log_likelihoods.begin(), four.restart_log_likelihoods.end());
  EXPECT_NEAR(four.train_log_likelihood, best, 1e-12);
  EXPECT_EQ(four.restart_log_likelihoods[static_cast<size_t>(four.best_restart - 1)], best);
  const auto json = testing::read_file(dir.file("four/summary.json"));
  EXPECT_NE(json.find("\"n_init\": 4"), std::string::npos) << json;
  EXPECT_NE(json.find("\"restart_train_log_likelihoods\": ["), std::string::npos) << json;
  // The checkpoint holds the kept fit.
  auto loaded = load_run(dir.file("four"));
  const auto data = data::load_vector_dataset(c.data, torch::kCPU, c.train.seed);
  EXPECT_NEAR(mean_log_likelihood(dynamic_cast<GaussianMixture&>(*loaded.model), data.train), best, 1e-12);
}

TEST(GmmTrainer, EmRunsAreNotResumable) {
  testing::TempDir dir;
  const auto c = ring_config();
  run(c, dir.file("run"));
  try {
    run(c, dir.file("run"), /*resume=*/true);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("a model.fit: em run is short and deterministic"), std::string::npos)
        << e.what();
  }
}

TEST(GmmTrainer, FewerPointsThanComponentsIsAClearError) {
  testing::TempDir dir;
  data::write_csv(dir.file("three.csv"), torch::randn({3, 2}, torch::kDouble));
  auto c = ring_config();
  c.data.dataset = "csv";
  c.data.path = dir.file("three.csv");
  c.data.test_fraction = 0;
  try {
    run(c, dir.file("run"));
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("model.components: 8 components but only 3 training points"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("run/checkpoints")));
}

TEST(GmmTrainer, ImagesWithPcaSaveTheProjection) {
  testing::TempDir dir;
  testing::write_tiny_mnist(dir.file("data"), 300, 100);
  auto c = ring_config();
  c.model.get<GmmConfig>().components = 4;
  c.model.get<GmmConfig>().covariance = "diag";
  c.data.dataset = "mnist";
  c.data.path = dir.file("data");
  c.data.binarize = "none";
  c.data.validation_size = 0;
  c.data.pca_dim = 5;
  const auto summary = run(c, dir.file("run"));
  EXPECT_EQ(summary.dim, 5);
  EXPECT_TRUE(std::isfinite(summary.test_log_likelihood));
  const auto pca = data::load_pca(dir.file("run/pca.pt"));
  EXPECT_EQ(pca.components.sizes(), (std::vector<int64_t>{64, 5}));
  EXPECT_EQ(load_run(dir.file("run"), "last").data_dim, 5);
}

}  // namespace
}  // namespace lvm::train
