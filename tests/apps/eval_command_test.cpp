// `lvm eval` end to end on a tiny model trained by the test.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "tests/testing.h"

namespace lvm {
namespace {

using testing::run_lvm;

// The number after "key": at or after the first occurrence of each `path` element in turn.
double json_number(const std::string& json, const std::vector<std::string>& path) {
  size_t at = 0;
  for (const auto& key : path) {
    at = json.find("\"" + key + "\":", at);
    if (at == std::string::npos) return NAN;
    at += key.size() + 3;
  }
  return std::strtod(json.c_str() + at, nullptr);
}

class EvalCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    testing::write_tiny_mnist(dir_->file("data"), 400, 60);
    testing::write_file(dir_->file("tiny.yaml"),
                        "name: tiny\ndevice: cpu\nthreads: 1\n"
                        "model:\n  latent_dim: 2\n  encoder: {hidden: [16]}\n  decoder: {hidden: [16]}\n"
                        "data:\n  path: " +
                            dir_->file("data") +
                            "\n  validation_size: 100\n"
                            "train:\n  epochs: 2\n  batch_size: 50\n"
                            "output:\n  progress: none\n");
    const auto trained =
        run_lvm("train " + dir_->file("tiny.yaml") + " --run-dir " + run_dir() + " --keep-epochs 1");
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string run_dir() { return dir_->file("run"); }
  static testing::TempDir* dir_;
};
testing::TempDir* EvalCommand::dir_ = nullptr;

TEST_F(EvalCommand, WritesEvalJsonTableAndPerExampleValues) {
  const auto csv = dir_->file("per_example.csv");
  const auto result = run_lvm("eval " + run_dir() +
                              " --k 50 --estimators iwae,elbo,prior --limit 40 --batch-size 16 --chunk 7"
                              " --per-example " +
                              csv + " --refine 20 --progress none");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const char* line : {"iwae", "elbo", "prior", "bits/dim", "active units", "amortisation gap"})
    EXPECT_NE(result.output.find(line), std::string::npos) << line << "\n" << result.output;

  const auto json = testing::read_file(run_dir() + "/eval.json");
  EXPECT_NE(json.find("\"split\": \"test\""), std::string::npos) << json;
  EXPECT_EQ(json_number(json, {"n"}), 40);
  EXPECT_EQ(json_number(json, {"iwae", "k"}), 50);
  const double iwae = json_number(json, {"iwae", "log_px"});
  const double elbo = json_number(json, {"elbo", "log_px"});
  const double prior = json_number(json, {"prior", "log_px"});
  for (double v : {iwae, elbo, prior}) EXPECT_TRUE(std::isfinite(v) && v < 0) << json;
  EXPECT_GT(json_number(json, {"iwae", "std_error"}), 0);
  const double ess = json_number(json, {"iwae", "ess_mean"});
  EXPECT_TRUE(ess >= 1 && ess <= 50) << json;
  EXPECT_NEAR(json_number(json, {"elbo", "rec"}) - json_number(json, {"elbo", "kl"}), elbo, 1e-9);
  // On the same 50 samples log mean w >= mean log w exactly (Jensen); the table's ELBO differs from
  // mean log w only by its analytic instead of sampled KL, whose Monte Carlo error over 40 x 50
  // draws of a 2-d latent is a few hundredths of a nat.
  EXPECT_GE(iwae, elbo - 0.05) << json;
  EXPECT_NEAR(json_number(json, {"bits_per_dim"}), -iwae / (64 * std::log(2.0)), 1e-9);
  const double active = json_number(json, {"active_units"});
  EXPECT_TRUE(active >= 0 && active <= 2) << json;
  EXPECT_EQ(json_number(json, {"latent_dim"}), 2);
  EXPECT_NEAR(json_number(json, {"gaps", "amortisation"}),
              json_number(json, {"gaps", "elbo_refined"}) - json_number(json, {"gaps", "elbo_encoder"}),
              1e-9);
  EXPECT_NEAR(json_number(json, {"gaps", "approximation"}),
              json_number(json, {"gaps", "log_px"}) - json_number(json, {"gaps", "elbo_refined"}), 1e-9);
  EXPECT_NEAR(json_number(json, {"gaps", "log_px"}), iwae, 1e-12);
  EXPECT_GT(json_number(json, {"seconds"}), 0);

  const auto table = testing::read_file(csv);
  std::istringstream lines(table);
  std::string header, line;
  std::getline(lines, header);
  EXPECT_EQ(header, "index,label,iwae,iwae_ess,elbo,elbo_kl,elbo_rec,prior,prior_ess,elbo_refined");
  int rows = 0;
  double iwae_sum = 0;
  while (std::getline(lines, line)) {
    ++rows;
    iwae_sum += std::strtod(line.c_str() + line.find(',', line.find(',') + 1) + 1, nullptr);
  }
  EXPECT_EQ(rows, 40);
  EXPECT_NEAR(iwae_sum / 40, iwae, 1e-4);  // the CSV holds 6 decimals
}

TEST_F(EvalCommand, SeedsSplitsCheckpointsAndModelErrors) {
  const std::string args = " --k 20 --limit 10 --progress none --seed 3";
  ASSERT_EQ(run_lvm("eval " + run_dir() + args).exit_code, 0);
  const auto first = testing::read_file(run_dir() + "/eval.json");
  ASSERT_EQ(run_lvm("eval " + run_dir() + args).exit_code, 0);
  const auto second = testing::read_file(run_dir() + "/eval.json");
  EXPECT_EQ(json_number(first, {"iwae", "log_px"}), json_number(second, {"iwae", "log_px"}));
  EXPECT_EQ(json_number(first, {"elbo", "log_px"}), json_number(second, {"elbo", "log_px"}));
  ASSERT_EQ(run_lvm("eval " + run_dir() + " --k 20 --limit 10 --progress none --seed 4").exit_code, 0);
  EXPECT_NE(json_number(first, {"iwae", "log_px"}),
            json_number(testing::read_file(run_dir() + "/eval.json"), {"iwae", "log_px"}));

  for (const char* split : {"validation", "train"}) {
    const auto result =
        run_lvm("eval " + run_dir() + " --k 5 --limit 8 --progress none --checkpoint last --split " + split);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const auto json = testing::read_file(run_dir() + "/eval.json");
    EXPECT_NE(json.find(std::string("\"split\": \"") + split + "\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"checkpoint\": \"last\""), std::string::npos) << json;
  }

  const auto exact = run_lvm("eval " + run_dir() + " --estimators exact");
  EXPECT_EQ(exact.exit_code, 2) << exact.output;
  EXPECT_NE(exact.output.find("model 'vae' has no closed-form log p(x)"), std::string::npos) << exact.output;
  const auto no_data = run_lvm("eval " + run_dir() + " --data-path " + dir_->file("nodata"));
  EXPECT_EQ(no_data.exit_code, 1) << no_data.output;
  EXPECT_NE(no_data.output.find("train-images-idx3-ubyte"), std::string::npos) << no_data.output;
}

// A model with a closed-form log p(x) gets the exact estimator; its proposal is the exact
// posterior, so every importance weight is p(x) itself and the IWAE estimate equals it.
TEST_F(EvalCommand, AKeptEpochIsEvaluatedIntoItsOwnReport) {
  // Training kept epoch 1 beside best.pt and last.pt (--keep-epochs 1), and no other epoch.
  const auto kept = run_dir() + "/checkpoints/epoch_0001.pt";
  ASSERT_TRUE(std::filesystem::exists(kept));
  EXPECT_FALSE(std::filesystem::exists(run_dir() + "/checkpoints/epoch_0002.pt"));
  ASSERT_EQ(run_lvm("eval " + run_dir() + " --k 5 --limit 8 --progress none").exit_code, 0);
  const auto run_report = testing::read_file(run_dir() + "/eval.json");

  const auto out = dir_->file("epoch1.json");
  const auto result = run_lvm("eval " + run_dir() + " --checkpoint " + kept + " -o " + out +
                              " --k 5 --limit 8 --progress none");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto report = testing::read_file(out);
  EXPECT_EQ(json_number(report, {"epoch"}), 1.0) << report;
  EXPECT_NE(report.find(kept), std::string::npos) << report;
  // The run's own report is left as it was.
  EXPECT_EQ(testing::read_file(run_dir() + "/eval.json"), run_report);

  const auto refused =
      run_lvm("train " + dir_->file("tiny.yaml") + " --run-dir " + dir_->file("k0") + " --keep-epochs 0");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_FALSE(std::filesystem::exists(dir_->file("k0")));
}

TEST(EvalCommandExact, TheLinearGaussianModelsExactLogLikelihood) {
  testing::TempDir dir;
  testing::write_tiny_mnist(dir.file("data"), 300, 40);
  testing::write_file(dir.file("ppca.yaml"),
                      "name: ppca\ndevice: cpu\nthreads: 1\n"
                      "model:\n  type: linear_gaussian\n  latent_dim: 3\n"
                      "data:\n  path: " +
                          dir.file("data") +
                          "\n  binarize: none\n  validation_size: 100\n"
                          "train:\n  epochs: 2\n  batch_size: 50\n  lr: 0.01\n"
                          "output:\n  progress: none\n  image_every: 0\n");
  const auto trained = run_lvm("train " + dir.file("ppca.yaml") + " --run-dir " + dir.file("run"));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const auto result = run_lvm("eval " + dir.file("run") + " --estimators exact,iwae --k 20 --progress none");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto json = testing::read_file(dir.file("run/eval.json"));
  const double exact = json_number(json, {"exact", "log_px"});
  const double iwae = json_number(json, {"iwae", "log_px"});
  EXPECT_TRUE(std::isfinite(exact)) << json;
  // Float32 densities in 64 dimensions: equal to rounding.
  EXPECT_NEAR(iwae, exact, 1e-4 * std::abs(exact)) << json;
  EXPECT_EQ(json_number(json, {"n"}), 40);
}

// Argument errors come before the run is even opened.
TEST(EvalCommandArguments, BadArgumentsAreUsageErrors) {
  testing::TempDir dir;
  const std::string run = dir.file("run");
  struct Case {
    std::string args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"eval " + run, run + ": run directory does not exist"},
      {"eval " + run + " --k 0", "--k must be >= 1, got 0"},
      {"eval " + run + " --estimators iwae,bogus", "unknown estimator 'bogus'"},
      {"eval " + run + " --split holdout", "unknown split 'holdout'"},
      {"eval", "run_dir is required"},
  };
  for (const auto& c : cases) {
    const auto result = run_lvm(c.args);
    EXPECT_EQ(result.exit_code, 2) << c.args << "\n" << result.output;
    EXPECT_NE(result.output.find(c.message), std::string::npos) << c.args << "\n" << result.output;
  }
}

TEST(EvalCommandArguments, MissingOrDamagedCheckpointsAreNamed) {
  // A run that has not finished an epoch has no checkpoint; a damaged one is a runtime error.
  testing::TempDir dir;
  std::filesystem::create_directories(dir.file("checkpoints"));
  testing::write_file(dir.file("config.yaml"), "name: x\n");
  const auto no_checkpoint = run_lvm("eval " + dir.path());
  // A missing checkpoint is a runtime error naming the file (train::load_run's CheckpointError).
  EXPECT_EQ(no_checkpoint.exit_code, 1) << no_checkpoint.output;
  EXPECT_NE(no_checkpoint.output.find("checkpoints/best.pt: checkpoint not found"), std::string::npos)
      << no_checkpoint.output;
  testing::write_file(dir.file("checkpoints/best.pt"), "not a checkpoint");
  const auto damaged = run_lvm("eval " + dir.path());
  EXPECT_EQ(damaged.exit_code, 1) << damaged.output;
  EXPECT_NE(damaged.output.find("not a readable checkpoint"), std::string::npos) << damaged.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("eval.json")));
}

}  // namespace
}  // namespace lvm
