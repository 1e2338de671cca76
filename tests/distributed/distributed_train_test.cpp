// `lvm train --nproc N` (and torchrun) on loopback: N processes train the parameters one process
// trains with the same global batch; a rank that dies or hangs ends the job within the timeout,
// with the checkpoint kept and resumable at another world size; rendezvous errors exit 2.
// `lvm eval --nproc N` reports what one process reports.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "lvm/config/config.h"
#include "lvm/distributed/launcher.h"
#include "lvm/distributed/process_group.h"
#include "lvm/models/registry.h"
#include "lvm/train/checkpoint.h"
#include "tests/testing.h"

namespace lvm {
namespace {

namespace fs = std::filesystem;

// Float sums in another order (N partial gradients summed, not one) leave the parameters of N
// processes this close to one process's after 200 Adam steps of the tiny model, whose parameters
// are of order 1: a split that drew other noise or other rows would be off by order 1.
constexpr double kTolerance = 2e-4;

std::vector<torch::Tensor> parameters_of(const std::string& checkpoint) {
  auto state = train::read_checkpoint_state(checkpoint);
  auto model = make_model(config::parse_config(state.config_yaml, checkpoint).model, {1, 8, 8});
  train::load_checkpoint(checkpoint, *model, nullptr);
  return model->parameters();
}

double max_difference(const std::string& a, const std::string& b) {
  const auto pa = parameters_of(a), pb = parameters_of(b);
  EXPECT_EQ(pa.size(), pb.size());
  double out = 0;
  for (size_t i = 0; i < pa.size() && i < pb.size(); ++i)
    out = std::max(out, (pa[i] - pb[i]).abs().max().item<double>());
  return out;
}

// eval.json without the lines that are timings or say how it was run (and without the commas
// that separate lines, which depend on the lines left out).
std::string without_timings(const std::string& json) {
  std::istringstream lines(json);
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == ',') line.pop_back();
    if (line.find("seconds") == std::string::npos && line.find("decoder_evals_per_s") == std::string::npos &&
        line.find("processes") == std::string::npos)
      out += line + "\n";
  }
  return out;
}

// `lvm ARGS` with the fault point LVM_FAULT armed in rank `rank` only.
testing::CommandResult run_with_fault_in_rank(const std::string& fault, int rank, const std::string& args) {
  ::setenv("LVM_FAULT", fault.c_str(), 1);
  ::setenv("LVM_FAULT_RANK", std::to_string(rank).c_str(), 1);
  auto result = testing::run_lvm(args);
  ::unsetenv("LVM_FAULT");
  ::unsetenv("LVM_FAULT_RANK");
  return result;
}

class DistributedTrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!distributed::available()) GTEST_SKIP() << "this build has no Gloo (libgloo-dev)";
    testing::write_tiny_mnist(dir_.file("data"), 600, 100);
  }

  // 500 training images in batches of 20: 25 steps per epoch.
  std::string config(int64_t epochs, double timeout_s = 60) {
    auto c = testing::tiny_vae_config(dir_.file("data"), epochs);
    c.train.batch_size = 20;
    c.train.seed = 4;
    c.distributed.timeout_s = timeout_s;
    const std::string path =
        dir_.file("tiny_" + std::to_string(epochs) + "_" + std::to_string(timeout_s) + ".yaml");
    testing::write_file(path, config::to_yaml(c));
    return path;
  }
  std::string run(const std::string& name) const { return dir_.file(name); }
  std::string last(const std::string& name) const { return dir_.file(name) + "/checkpoints/last.pt"; }

  // The one-process reference, trained once per test that needs it.
  void train_reference(int64_t epochs) {
    const auto result = testing::run_lvm("train " + config(epochs) + " --run-dir " + run("one"));
    ASSERT_EQ(result.exit_code, 0) << result.output;
  }

  testing::TempDir dir_;
};

TEST_F(DistributedTrainTest, TwoAndThreeProcessesTrainWhatOneProcessTrains) {
  train_reference(8);  // 200 steps
  for (int n : {2, 3}) {
    const std::string name = "n" + std::to_string(n);
    const auto result =
        testing::run_lvm("train " + config(8) + " --run-dir " + run(name) + " --nproc " + std::to_string(n));
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_LT(max_difference(last("one"), last(name)), kTolerance) << n << " processes";
    // One writer: one summary line, and no file from another rank.
    EXPECT_EQ(result.output.find("[rank 1] {"), std::string::npos) << result.output;
    EXPECT_TRUE(fs::exists(run(name) + "/summary.json"));
    const auto one = testing::csv_cells(testing::read_file(run("one") + "/metrics.csv"));
    const auto many = testing::csv_cells(testing::read_file(run(name) + "/metrics.csv"));
    ASSERT_EQ(one.size(), many.size());
    for (size_t row = 1; row < one.size(); ++row)  // train_elbo, val_elbo: means over all rows
      for (size_t column : {1, 2})
        EXPECT_NEAR(std::stod(one[row][column]), std::stod(many[row][column]), 1e-3) << "row " << row;
  }
}

TEST_F(DistributedTrainTest, ResumesWithAnotherNumberOfProcesses) {
  train_reference(8);
  auto result = testing::run_lvm("train " + config(4) + " --run-dir " + run("resumed") + " --nproc 2");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  result = testing::run_lvm("train --resume " + run("resumed") + " --set train.epochs=8 --nproc 3");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_LT(max_difference(last("one"), last("resumed")), kTolerance);
}

TEST_F(DistributedTrainTest, AKilledRankEndsTheJobAndTheCheckpointResumes) {
  train_reference(8);
  // Rank 1 is killed after the exchange of its 30th step (epoch 2, step 5): rank 0's next one fails.
  const auto start = std::chrono::steady_clock::now();
  auto result = run_with_fault_in_rank(
      "step@30", 1, "train " + config(8, 20) + " --run-dir " + run("killed") + " --nproc 2");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(result.exit_code, 128 + 9) << result.output;
  EXPECT_NE(result.output.find("lvm: rank 1 was killed by signal 9 (Killed); stopping the other rank"),
            std::string::npos)
      << result.output;
  EXPECT_NE(
      result.output.find("[rank 0] lvm train: rank 0 of 2: exchange of the gradients of epoch 2, step 6 "
                         "failed"),
      std::string::npos)
      << result.output;
  EXPECT_LT(seconds, 20) << "the job outlived the 20 s timeout";
  // last.pt still holds epoch 1; the rest of the run, in one process, ends where one process ends.
  EXPECT_EQ(train::read_checkpoint_state(last("killed")).epoch, 1);
  result = testing::run_lvm("train --resume " + run("killed"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_LT(max_difference(last("one"), last("killed")), kTolerance);
}

// A stop request reaching one rank only (SIGINT raised in rank 1 after its 30th step) stops every
// rank at the same step boundary: the request travels with the step's exchange, rank 0 writes the
// mid-epoch checkpoint, and the run resumes (at another world size) to one process's result.
TEST_F(DistributedTrainTest, AStopRequestToOneRankStopsAllAtTheSameStep) {
  train_reference(8);
  auto result = run_with_fault_in_rank("sigint@30", 1,
                                       "train " + config(8) + " --run-dir " + run("stopped") + " --nproc 2");
  EXPECT_EQ(result.exit_code, 130) << result.output;
  for (const char* rank : {"[rank 0]", "[rank 1]"}) {
    EXPECT_NE(
        result.output.find(std::string(rank) + " lvm train: stopped by signal 2 at epoch 2, step 6 of 25"),
        std::string::npos)
        << rank << "\n"
        << result.output;
  }
  const auto state = train::read_checkpoint_state(last("stopped"));
  EXPECT_EQ(state.epoch, 1);
  EXPECT_EQ(state.step, 6);
  result = testing::run_lvm("train --resume " + run("stopped") + " --nproc 3");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_LT(max_difference(last("one"), last("stopped")), kTolerance);
}

TEST_F(DistributedTrainTest, AHungRankEndsTheJobWithinTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  const auto result = run_with_fault_in_rank(
      "hang_before_exchange@30", 1, "train " + config(8, 3) + " --run-dir " + run("hung") + " --nproc 2");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("rank 0 of 2: exchange of the gradients of epoch 2, step 5 failed"),
            std::string::npos)
      << result.output;
  // The 3 s timeout, then 3 s of grace before the hung rank is killed, plus start-up.
  EXPECT_LT(seconds, 25) << result.output;
  EXPECT_EQ(train::read_checkpoint_state(last("hung")).epoch, 1);
}

// Behind Gloo's timeout, the watchdog: a rank stuck inside an exchange (here on purpose, before
// Gloo is even called) ends itself at twice the timeout plus a second, naming the exchange.
TEST_F(DistributedTrainTest, TheWatchdogEndsARankStuckInAnExchange) {
  const std::string job =
      "env MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(distributed::free_loopback_port()) +
      " WORLD_SIZE=2 ";
  const std::string train = std::string(LVM_BINARY) + " train " + config(2, 2) + " --run-dir ";
  const auto start = std::chrono::steady_clock::now();
  // Its 4th exchange: after the start's broadcast and step 1's two, step 2's gradients.
  const auto result =
      testing::run_shell("(" + job + "RANK=1 " + train + run("w1") + " > " + dir_.file("w1.log") +
                         " 2>&1 &) ; " + job + "RANK=0 LVM_FAULT=hang_in_exchange@4 " + train + run("w0"));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(
      result.output.find("lvm: rank 0 of 2: exchange of the gradients of epoch 1, step 2 did not return "
                         "within 5 s, past the group's timeout"),
      std::string::npos)
      << result.output;
  EXPECT_LT(seconds, 20) << result.output;
}

TEST_F(DistributedTrainTest, RendezvousErrorsAreClearAndExitTwo) {
  const std::string train = std::string(LVM_BINARY) + " train " + config(1) + " --run-dir " + run("bad");
  const std::string job = "MASTER_ADDR=127.0.0.1 MASTER_PORT=29999 ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {job + "RANK=2 WORLD_SIZE=2 ", "RANK=2 is not below WORLD_SIZE=2"},
      {job + "RANK=0 WORLD_SIZE=0 ", "WORLD_SIZE=0 is out of range"},
      {"MASTER_ADDR=127.0.0.1 MASTER_PORT=70000 RANK=0 WORLD_SIZE=2 ", "MASTER_PORT=70000 is out of range"},
      {"MASTER_ADDR=127.0.0.1 RANK=0 WORLD_SIZE=2 ", "MASTER_PORT not set"},
      {job + "RANK=0 WORLD_SIZE=2 ", "--nproc cannot start processes inside a data-parallel job"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& [env, message] = cases[i];
    const auto result =
        testing::run_shell("env -u RANK -u WORLD_SIZE " + env + train + (i == 4 ? " --nproc 2" : ""));
    EXPECT_EQ(result.exit_code, 2) << env << "\n" << result.output;
    EXPECT_NE(result.output.find(message), std::string::npos) << env << "\n" << result.output;
  }
  EXPECT_FALSE(fs::exists(run("bad") + "/config.yaml"));
}

TEST_F(DistributedTrainTest, ARendezvousThatNobodyJoinsTimesOut) {
  const int port = distributed::free_loopback_port();
  const auto start = std::chrono::steady_clock::now();
  const auto result =
      testing::run_shell("env RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) +
                         " " + LVM_BINARY + " train " + config(1, 2) + " --run-dir " + run("alone"));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("rank 0 of 2: rendezvous at 127.0.0.1:" + std::to_string(port) +
                               " failed within 2 s"),
            std::string::npos)
      << result.output;
  EXPECT_LT(seconds, 15) << result.output;
}

TEST_F(DistributedTrainTest, EvaluationOverProcessesEqualsOneProcess) {
  auto result = testing::run_lvm("train " + config(2) + " --run-dir " + run("trained"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string eval =
      "eval " + run("trained") + " --k 40 --batch-size 30 --estimators iwae,elbo,prior --progress none";
  result = testing::run_lvm(eval + " -o " + dir_.file("one.json") + " --per-example " + dir_.file("one.csv"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (int n : {2, 3}) {
    const std::string name = "n" + std::to_string(n);
    result = testing::run_lvm(eval + " -o " + dir_.file(name + ".json") + " --per-example " +
                              dir_.file(name + ".csv") + " --nproc " + std::to_string(n));
    ASSERT_EQ(result.exit_code, 0) << result.output;
    // 100 test images in batches of 30: each batch's draws come from its own seed, wherever it
    // runs, so every per-example value (log p(x), ESS, ELBO terms) is the one-process value.
    EXPECT_EQ(testing::read_file(dir_.file(name + ".csv")), testing::read_file(dir_.file("one.csv"))) << n;
    // eval.json: every number but the timings (and the count of processes) as one process's.
    const std::string one = testing::read_file(dir_.file("one.json"));
    const std::string many = testing::read_file(dir_.file(name + ".json"));
    EXPECT_EQ(without_timings(many), without_timings(one)) << n;
    EXPECT_NE(many.find("\"processes\": " + std::to_string(n)), std::string::npos) << many;
    EXPECT_NE(one.find("\"log_px\""), std::string::npos) << one;
  }
  // More processes than batches leaves one without work: refused, naming the fix.
  result = testing::run_lvm("eval " + run("trained") + " --k 4 --batch-size 50 --nproc 3 -o " +
                            dir_.file("x.json"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("make 2 batches, fewer than the 3 processes"), std::string::npos)
      << result.output;
}

// torchrun's own launcher (Debian's python3-torch), whose agent hosts the store.
TEST_F(DistributedTrainTest, UnderTorchrunTwoProcessesTrainWhatOneProcessTrains) {
  const std::string python = testing::python_with_torch();
  if (python.empty()) GTEST_SKIP() << "no python3 with torch for torchrun";
  train_reference(8);
  // -r 1 -t 1 (standard output to a file and the console): torchrun 1.13's default "0" fails on
  // Python 3.11, whose flag enums no longer list the zero member it looks up.
  const auto result =
      testing::run_shell(python + " -m torch.distributed.run --nproc_per_node 2 --master_port " +
                         std::to_string(distributed::free_loopback_port()) + " -r 1 -t 1 --log_dir " +
                         dir_.file("torchrun_logs") + " --no_python " + LVM_BINARY + " train " + config(8) +
                         " --run-dir " + run("torchrun"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_LT(max_difference(last("one"), last("torchrun")), kTolerance);
}

}  // namespace
}  // namespace lvm
