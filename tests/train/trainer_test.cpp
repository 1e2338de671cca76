// The trainer on a tiny generated data set: it learns, it is deterministic, and a resumed run
// ends where an uninterrupted one does.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "lvm/models/vae/vae.h"
#include "lvm/models/vae/vae_config.h"
#include "lvm/train/checkpoint.h"
#include "lvm/train/trainer.h"
#include "tests/testing.h"

namespace lvm::train {
namespace {

config::ExperimentConfig tiny_config(const std::string& data_dir) {
  auto c = testing::tiny_vae_config(data_dir, 4);
  c.train.seed = 11;
  return c;
}

TrainSummary run(const config::ExperimentConfig& c, const std::string& dir, bool resume = false) {
  std::ostringstream log;
  TrainRequest request{c, dir, resume, false, &log};
  return train(request);
}

std::vector<torch::Tensor> final_parameters(const std::string& run_dir, const config::ExperimentConfig& c) {
  Vae model(VaeOptions(64, c.model.get<VaeConfig>().latent_dim)
                .encoder_hidden(c.model.get<VaeConfig>().encoder.hidden)
                .decoder_hidden(c.model.get<VaeConfig>().decoder.hidden));
  load_checkpoint(run_dir + "/checkpoints/last.pt", model, nullptr);
  return model.parameters();
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_tiny_mnist(dir_.file("data"), 600, 100); }
  // metrics.csv of a run without its seconds and examples/s columns, which vary run to run.
  std::vector<std::vector<std::string>> deterministic_metrics(const std::string& run_dir) const {
    auto rows = testing::csv_cells(testing::read_file(dir_.file(run_dir + "/metrics.csv")));
    for (auto& row : rows) row.erase(row.begin() + 5, row.begin() + 7);
    return rows;
  }
  testing::TempDir dir_;
};

TEST_F(TrainerTest, LearnsAndWritesTheRunDirectory) {
  const auto c = tiny_config(dir_.file("data"));
  const auto summary = run(c, dir_.file("run"));
  const auto rows = testing::csv_cells(testing::read_file(dir_.file("run/metrics.csv")));
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0][0], "epoch");
  EXPECT_EQ(rows[0][2], "val_elbo");
  const double first_val = std::stod(rows[1][2]), last_val = std::stod(rows[4][2]);
  EXPECT_GT(last_val, first_val + 1.0) << "validation ELBO should improve";
  EXPECT_EQ(summary.epochs, 4);
  EXPECT_LT(summary.test_elbo, 0.0);
  EXPECT_TRUE(std::isfinite(summary.test_elbo));
  EXPECT_TRUE(std::filesystem::exists(dir_.file("run/checkpoints/best.pt")));
  const auto json = testing::read_file(dir_.file("run/summary.json"));
  for (const char* key : {"\"epochs\": 4", "\"val_elbo\"", "\"test_elbo\"", "\"examples_per_s\""}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
  }
  // The resolved config is the one that ran.
  EXPECT_EQ(config::parse_config(testing::read_file(dir_.file("run/config.yaml")), "config.yaml"), c);
}

TEST_F(TrainerTest, SameSeedSameMetricsAndResumeMatchesAnUninterruptedRun) {
  auto c = tiny_config(dir_.file("data"));
  run(c, dir_.file("full"));
  run(c, dir_.file("again"));
  auto c2 = c;
  c2.train.epochs = 2;
  run(c2, dir_.file("split"));
  run(c, dir_.file("split"), /*resume=*/true);

  // Deterministic columns (everything but seconds and examples/s) agree exactly.
  EXPECT_EQ(deterministic_metrics("full"), deterministic_metrics("again"));
  EXPECT_EQ(deterministic_metrics("full"), deterministic_metrics("split"));
  const auto a = final_parameters(dir_.file("full"), c), b = final_parameters(dir_.file("split"), c);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
}

TEST_F(TrainerTest, RefusesToOverwriteARunAndToResumeNothing) {
  const auto c = tiny_config(dir_.file("data"));
  auto short_run = c;
  short_run.train.epochs = 1;
  run(short_run, dir_.file("run"));
  const auto before = testing::read_file(dir_.file("run/metrics.csv"));
  try {
    run(short_run, dir_.file("run"));
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("already holds a run; pass --resume"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(testing::read_file(dir_.file("run/metrics.csv")), before);
  try {
    run(short_run, dir_.file("nothing"), /*resume=*/true);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no checkpoint to resume from"), std::string::npos) << e.what();
  }
}

TEST_F(TrainerTest, BernoulliOnGreyLevelsIsRefusedUnlessAllowed) {
  auto c = tiny_config(dir_.file("data"));
  c.data.binarize = "none";
  try {
    run(c, dir_.file("grey"));
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("data.bernoulli_on_grey"), std::string::npos) << e.what();
  }
  c.data.bernoulli_on_grey = true;
  c.train.epochs = 1;
  EXPECT_NO_THROW(run(c, dir_.file("grey2")));
}

TEST_F(TrainerTest, TheLoopsSeamsTheGradientHookTheObjectiveAndWhoWrites) {
  auto c = tiny_config(dir_.file("data"));
  c.train.epochs = 2;
  std::ostringstream log;
  // The hook sees each step's gradients before the optimiser does: zeroed, Adam's first moment
  // stays 0 and no parameter moves (each step is lr * m / (sqrt(v) + eps) = 0).
  int64_t hook_calls = 0;
  std::vector<torch::Tensor> initial;
  TrainRequest frozen{c, dir_.file("frozen"), false, false, &log};
  frozen.after_backward = [&](const std::vector<torch::Tensor>& parameters) {
    if (hook_calls++ == 0)
      for (const auto& p : parameters) initial.push_back(p.detach().clone());
    for (const auto& p : parameters) p.grad().zero_();
  };
  int64_t objective_calls = 0;
  frozen.objective = [&](LatentVariableModel& model, const torch::Tensor& x) {
    ++objective_calls;
    return elbo(model, x);
  };
  train(frozen);
  // 600 images less 100 for validation, in batches of 50: 10 steps an epoch.
  EXPECT_EQ(hook_calls, 20);
  EXPECT_EQ(objective_calls, 20);
  const auto final = final_parameters(dir_.file("frozen"), c);
  ASSERT_EQ(final.size(), initial.size());
  for (size_t i = 0; i < final.size(); ++i) EXPECT_TRUE(torch::equal(final[i], initial[i])) << i;

  // A process that does not write leaves the run directory alone, and trains all the same: its
  // final weights are those of a writing run with the same seed.
  TrainRequest silent{c, dir_.file("silent"), false, false, &log};
  silent.writes = false;
  const auto quiet = train(silent);
  EXPECT_FALSE(std::filesystem::exists(dir_.file("silent")));
  const auto written = run(c, dir_.file("written"));
  EXPECT_EQ(quiet.val_elbo, written.val_elbo);
  EXPECT_EQ(quiet.epochs, 2);
}

// A KL warm-up: metrics.csv logs each epoch's β and the surrogate maximised beside the true ELBO,
// validation (and so best.pt) scores the true ELBO, and a resumed run ends where a whole one does.
TEST_F(TrainerTest, AKlWarmupLogsItsWeightAndTheSurrogateAndValidatesTheTrueElbo) {
  auto c = tiny_config(dir_.file("data"));
  c.model.get<VaeConfig>().kl_warmup_epochs = 2;
  c.model.get<VaeConfig>().kl_weight = 0.8;
  run(c, dir_.file("warmup"));
  const auto rows = testing::csv_cells(testing::read_file(dir_.file("warmup/metrics.csv")));
  ASSERT_EQ(rows.size(), 5u);
  const auto column = [&](const std::string& name) {
    const auto at = std::find(rows[0].begin(), rows[0].end(), name);
    EXPECT_NE(at, rows[0].end()) << name;
    return static_cast<size_t>(at - rows[0].begin());
  };
  const size_t beta = column("kl_weight"), objective = column("train_objective"),
               train_elbo = column("train_elbo");
  const size_t val = column("val_elbo"), val_kl = column("val_kl"), val_rec = column("val_rec");
  // β at each epoch's last step: 0.8 · min(1, epoch / 2).
  const double expected_beta[] = {0.4, 0.8, 0.8, 0.8};
  for (size_t e = 1; e <= 4; ++e) {
    EXPECT_DOUBLE_EQ(std::stod(rows[e][beta]), expected_beta[e - 1]) << "epoch " << e;
    // With β < 1 the surrogate rec − β KL lies above the ELBO rec − KL.
    EXPECT_GT(std::stod(rows[e][objective]), std::stod(rows[e][train_elbo])) << "epoch " << e;
    // The validation score is the ELBO with its whole KL.
    EXPECT_NEAR(std::stod(rows[e][val]), std::stod(rows[e][val_rec]) - std::stod(rows[e][val_kl]), 1e-4);
  }

  auto half = c;
  half.train.epochs = 1;
  run(half, dir_.file("split"));
  run(c, dir_.file("split"), /*resume=*/true);
  EXPECT_EQ(deterministic_metrics("split"), deterministic_metrics("warmup"));

  // Without the options the surrogate is the bound itself.
  run(tiny_config(dir_.file("data")), dir_.file("plain"));
  const auto plain = testing::csv_cells(testing::read_file(dir_.file("plain/metrics.csv")));
  for (size_t e = 1; e < plain.size(); ++e) {
    EXPECT_EQ(plain[e][beta], "1");
    EXPECT_NEAR(std::stod(plain[e][objective]), std::stod(plain[e][train_elbo]), 1e-3);
  }
}

}  // namespace
}  // namespace lvm::train
