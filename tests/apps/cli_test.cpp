// The `lvm` binary end to end: exit codes, messages, and a full training run on generated data.

#include <gtest/gtest.h>

#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

#include "lvm/train/run_dir.h"
#include "tests/testing.h"

namespace lvm {
namespace {

using testing::run_lvm;

std::string tiny_yaml(const std::string& data_dir) {
  auto c = testing::tiny_vae_config(data_dir);
  c.train.lr = 1e-3;
  c.output.progress = "lines";
  return config::to_yaml(c);
}

TEST(Cli, HelpAndUsageErrors) {
  EXPECT_EQ(run_lvm("--help").exit_code, 0);
  const auto train_help = run_lvm("train --help");
  EXPECT_EQ(train_help.exit_code, 0);
  EXPECT_NE(train_help.output.find("--resume"), std::string::npos);
  EXPECT_EQ(run_lvm("").exit_code, 2);
  EXPECT_EQ(run_lvm("frobnicate").exit_code, 2);
  const auto missing = run_lvm("train");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("missing CONFIG"), std::string::npos) << missing.output;
}

TEST(Cli, InfoTuneTimesEachSplitAndNamesTheChoice) {
  testing::TempDir dir;
  testing::write_file(dir.file("tiny.yaml"), tiny_yaml(dir.file("data")));
  const auto tuned = run_lvm("info --no-bench --tune --config " + dir.file("tiny.yaml") +
                             " --set train.batch_size=8 --steps 1 --rounds 1");
  ASSERT_EQ(tuned.exit_code, 0) << tuned.output;
  EXPECT_NE(tuned.output.find("batch 8"), std::string::npos) << tuned.output;
  EXPECT_NE(tuned.output.find("<- fastest"), std::string::npos) << tuned.output;
  EXPECT_NE(tuned.output.find("(automatic)"), std::string::npos) << tuned.output;
  EXPECT_NE(tuned.output.find("chose      torch_threads: "), std::string::npos) << tuned.output;
  // Tuning options without --tune, and configs it cannot time, are usage errors.
  EXPECT_EQ(run_lvm("info --no-bench --config " + dir.file("tiny.yaml")).exit_code, 2);
  const auto vectors = run_lvm("info --no-bench --tune --set data.dataset=synthetic --set model.type=gmm");
  EXPECT_EQ(vectors.exit_code, 2) << vectors.output;
  EXPECT_NE(vectors.output.find("data.dataset is 'synthetic'"), std::string::npos) << vectors.output;
}

TEST(Cli, ConfigErrorsNameFileLineAndKey) {
  testing::TempDir dir;
  testing::write_file(dir.file("bad.yaml"), "name: x\ntrain:\n  epochs: 2\n  batch_sise: 10\n");
  const auto result = run_lvm("train " + dir.file("bad.yaml") + " --run-dir " + dir.file("run"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("bad.yaml:4: train.batch_sise: unknown key (did you mean 'batch_size'?)"),
            std::string::npos)
      << result.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("run")));

  const auto override_error = run_lvm("train " + dir.file("bad.yaml") + " --set train.epochs=many");
  EXPECT_EQ(override_error.exit_code, 2);
  const auto missing_file = run_lvm("train " + dir.file("nope.yaml"));
  EXPECT_EQ(missing_file.exit_code, 2);
  EXPECT_NE(missing_file.output.find("nope.yaml"), std::string::npos) << missing_file.output;
}

TEST(Cli, TrainsResumesAndRefusesToOverwrite) {
  testing::TempDir dir;
  testing::write_tiny_mnist(dir.file("data"), 400, 100);
  testing::write_file(dir.file("tiny.yaml"), tiny_yaml(dir.file("data")));
  const auto run_dir = dir.file("run");

  const auto trained = run_lvm("train " + dir.file("tiny.yaml") + " --run-dir " + run_dir);
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(trained.output.find("epoch   2/2"), std::string::npos) << trained.output;
  EXPECT_NE(trained.output.find("{\"epochs\":2,\"val_elbo\":"), std::string::npos) << trained.output;
  for (const char* f :
       {"config.yaml", "metrics.csv", "summary.json", "checkpoints/last.pt", "checkpoints/best.pt"}) {
    EXPECT_TRUE(std::filesystem::exists(run_dir + "/" + f)) << f;
  }

  const auto again = run_lvm("train " + dir.file("tiny.yaml") + " --run-dir " + run_dir);
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.output.find("already holds a run"), std::string::npos) << again.output;

  const auto resumed = run_lvm("train --resume " + run_dir + " --set train.epochs=3");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming"), std::string::npos);
  EXPECT_NE(resumed.output.find("{\"epochs\":3,"), std::string::npos) << resumed.output;

  const auto bad_resume = run_lvm("train --resume " + run_dir + " --set model.latent_dim=3");
  EXPECT_EQ(bad_resume.exit_code, 2);
  EXPECT_NE(bad_resume.output.find("only train.epochs may change"), std::string::npos);
}

TEST(Cli, MissingDataIsARuntimeErrorNamingTheFile) {
  testing::TempDir dir;
  testing::write_file(dir.file("tiny.yaml"), tiny_yaml(dir.file("nodata")));
  const auto result = run_lvm("train " + dir.file("tiny.yaml") + " --run-dir " + dir.file("run"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("train-images-idx3-ubyte"), std::string::npos) << result.output;
}

std::string gmm_csv_yaml(const std::string& csv) {
  return "name: gmm_csv\n"
         "device: cpu\n"
         "threads: 1\n"
         "model:\n"
         "  type: gmm\n"
         "  objective: exact\n"
         "  components: 2\n"
         "  em_tol: 1.0e-8\n"
         "data:\n"
         "  dataset: csv\n"
         "  path: " +
         csv +
         "\n"
         "  test_fraction: 0.25\n"
         "output:\n"
         "  progress: lines\n";
}

TEST(Cli, TrainsAGaussianMixtureOnACsvFile) {
  testing::TempDir dir;
  // Two clusters of 20 points each, at x = ±3.
  std::string csv = "x,y\n";
  for (int i = 0; i < 40; ++i) {
    const double side = i % 2 == 0 ? -3.0 : 3.0;
    csv += std::to_string(side + 0.1 * ((i * 7) % 11 - 5)) + "," + std::to_string(0.1 * ((i * 5) % 9 - 4)) +
           "\n";
  }
  testing::write_file(dir.file("points.csv"), csv);
  testing::write_file(dir.file("gmm.yaml"), gmm_csv_yaml(dir.file("points.csv")));
  const auto trained = run_lvm("train " + dir.file("gmm.yaml") + " --run-dir " + dir.file("run"));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(trained.output.find("EM converged after"), std::string::npos) << trained.output;
  EXPECT_NE(trained.output.find("{\"em_steps\":"), std::string::npos) << trained.output;
  EXPECT_NE(trained.output.find("\"train_log_likelihood\":"), std::string::npos) << trained.output;
  EXPECT_NE(trained.output.find("\"bic\":"), std::string::npos) << trained.output;
  for (const char* f :
       {"config.yaml", "metrics.csv", "summary.json", "checkpoints/last.pt", "checkpoints/best.pt"})
    EXPECT_TRUE(std::filesystem::exists(dir.file("run/") + f)) << f;

  // lvm eval scores the test points; the mixture's proposal is its exact posterior, so the
  // importance-sampled estimate equals the exact log p(x) (to rounding).
  const auto evaluated =
      run_lvm("eval " + dir.file("run") + " --estimators exact,iwae --k 8 --progress none");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  const auto eval_json = testing::read_file(dir.file("run/eval.json"));
  const auto log_px_of = [&](const std::string& estimator) -> double {
    const size_t at = eval_json.find("\"" + estimator + "\": {");
    if (at == std::string::npos) return NAN;
    const size_t value = eval_json.find("\"log_px\": ", at);
    return std::strtod(eval_json.c_str() + value + 10, nullptr);
  };
  EXPECT_TRUE(std::isfinite(log_px_of("exact"))) << eval_json;
  EXPECT_NEAR(log_px_of("iwae"), log_px_of("exact"), 1e-6) << eval_json;
  // lvm encode writes each point's responsibilities: rows of probabilities that sum to one, the
  // most probable component named; the clusters lie far apart, so each point belongs to one
  // component almost surely, and both components are used.
  const auto encoded = run_lvm("encode " + dir.file("run") + " --split train -o " + dir.file("r.csv"));
  ASSERT_EQ(encoded.exit_code, 0) << encoded.output;
  const auto rows = testing::read_file(dir.file("r.csv"));
  EXPECT_EQ(rows.substr(0, rows.find('\n')), "index,label,component,p_0,p_1");
  std::istringstream lines(rows);
  std::string line;
  std::getline(lines, line);
  std::set<std::string> components;
  while (std::getline(lines, line)) {
    std::vector<std::string> cells;
    std::istringstream cell_stream(line);
    for (std::string cell; std::getline(cell_stream, cell, ',');) cells.push_back(cell);
    ASSERT_EQ(cells.size(), 5u) << line;
    EXPECT_EQ(cells[1], "") << "vector data have no labels";
    EXPECT_NEAR(std::stod(cells[3]) + std::stod(cells[4]), 1.0, 1e-12) << line;
    EXPECT_GT(std::max(std::stod(cells[3]), std::stod(cells[4])), 0.99) << line;
    components.insert(cells[2]);
  }
  EXPECT_EQ(components, (std::set<std::string>{"0", "1"}));

  // lvm sample draws points: a scatter plot, or the points as CSV; picture modes are for images.
  const auto plotted = run_lvm("sample " + dir.file("run") + " -o " + dir.file("draws.png"));
  ASSERT_EQ(plotted.exit_code, 0) << plotted.output;
  EXPECT_TRUE(std::filesystem::exists(dir.file("draws.png")));
  const auto drawn = run_lvm("sample " + dir.file("run") + " --n 500 -o " + dir.file("draws.csv"));
  ASSERT_EQ(drawn.exit_code, 0) << drawn.output;
  const auto draws = testing::read_file(dir.file("draws.csv"));
  EXPECT_EQ(draws.substr(0, draws.find('\n')), "index,component,x_0,x_1");
  EXPECT_EQ(std::count(draws.begin(), draws.end(), '\n'), 501);
  const auto refused = run_lvm("sample " + dir.file("run") + " --reconstruct");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.output.find("holds a model of vector data (model.type gmm)"), std::string::npos)
      << refused.output;

  // lvm export writes the mixture; its log_prob is the exact log p(x) of the run's model.
  const auto exported = run_lvm("export " + dir.file("run") + " --output " + dir.file("gmm.pt"));
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  auto module = torch::jit::load(dir.file("gmm.pt"));
  const auto run = train::load_run(dir.file("run"), "best");
  const auto points = torch::tensor({-3.0, 0.1, 3.0, -0.2, 0.0, 0.0}, torch::kDouble).reshape({3, 2});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(module.get_method("log_prob")({points}).toTensor(),
                              *run.model->exact_log_marginal(points), 1e-9, 1e-12));

  // --resume is for gradient fits; an EM run says so.
  const auto resumed = run_lvm("train --resume " + dir.file("run"));
  EXPECT_EQ(resumed.exit_code, 2);
  EXPECT_NE(resumed.output.find("run it again"), std::string::npos) << resumed.output;

  // The same file by gradient ascent.
  const auto gradient = run_lvm("train " + dir.file("gmm.yaml") + " --run-dir " + dir.file("grad") +
                                " --set model.fit=gradient --set train.epochs=3 --set train.batch_size=10");
  ASSERT_EQ(gradient.exit_code, 0) << gradient.output;
  EXPECT_NE(gradient.output.find("{\"epochs\":3"), std::string::npos) << gradient.output;
}

TEST(Cli, BadCsvRowsAreRuntimeErrorsNamingFileAndLine) {
  testing::TempDir dir;
  testing::write_file(dir.file("points.csv"), "1,2\n3,4\n5,nan\n7,8\n");
  testing::write_file(dir.file("gmm.yaml"), gmm_csv_yaml(dir.file("points.csv")));
  const auto result = run_lvm("train " + dir.file("gmm.yaml") + " --run-dir " + dir.file("run"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("points.csv:3: column 2: 'nan' is not a finite number"), std::string::npos)
      << result.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("run/checkpoints")));

  testing::write_file(dir.file("points.csv"), "1,2\n3,4,5\n");
  const auto ragged = run_lvm("train " + dir.file("gmm.yaml") + " --run-dir " + dir.file("run"));
  EXPECT_EQ(ragged.exit_code, 1);
  EXPECT_NE(ragged.output.find("points.csv:2: expected 2 values (as on line 1), got 3"), std::string::npos)
      << ragged.output;
}

TEST(Cli, CudaOnACpuBuildIsAClearError) {
  testing::TempDir dir;
  testing::write_tiny_mnist(dir.file("data"), 200, 50);
  testing::write_file(dir.file("tiny.yaml"), tiny_yaml(dir.file("data")));
  const auto result =
      run_lvm("train " + dir.file("tiny.yaml") + " --set device=cuda --run-dir " + dir.file("run"));
  if (result.exit_code == 0) GTEST_SKIP() << "this build has CUDA";
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("no CUDA"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace lvm
