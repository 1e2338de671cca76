// Training that is stopped, crashes into a non-finite value, or checkpoints mid-epoch still ends
// exactly where an uninterrupted run ends, and never leaves a bad checkpoint behind.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "lvm/models/registry.h"
#include "lvm/train/checkpoint.h"
#include "lvm/train/stop_signal.h"
#include "lvm/train/trainer.h"
#include "lvm/util/fault.h"
#include "tests/testing.h"

namespace lvm::train {
namespace {

// 500 training examples in batches of 50: 10 steps per epoch, 30 in all.
config::ExperimentConfig tiny_config(const std::string& data_dir) {
  auto c = testing::tiny_vae_config(data_dir, 3);
  c.train.seed = 5;
  return c;
}

// Arms LVM_FAULT for the lifetime of the object (this process only).
class ScopedFault {
 public:
  explicit ScopedFault(const std::string& spec) {
    ::setenv("LVM_FAULT", spec.c_str(), 1);
    util::reset_faults();
  }
  ~ScopedFault() {
    ::unsetenv("LVM_FAULT");
    util::reset_faults();
    clear_stop_request();
  }
};

TrainSummary run(const config::ExperimentConfig& c, const std::string& dir, bool resume = false,
                 std::string* log_text = nullptr) {
  std::ostringstream log;
  TrainRequest request{c, dir, resume, false, &log};
  try {
    auto summary = train(request);
    if (log_text != nullptr) *log_text = log.str();
    return summary;
  } catch (...) {
    if (log_text != nullptr) *log_text = log.str();
    throw;
  }
}

std::vector<torch::Tensor> parameters_of(const std::string& checkpoint, const config::ExperimentConfig& c) {
  auto model = make_model(c.model, {1, 8, 8});
  load_checkpoint(checkpoint, *model, nullptr);
  return model->parameters();
}

void expect_same_parameters(const std::string& a, const std::string& b, const config::ExperimentConfig& c) {
  const auto pa = parameters_of(a, c), pb = parameters_of(b, c);
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
}

// metrics.csv without the timing columns (seconds, examples_per_s), which differ run to run.
std::string deterministic_metrics(const std::string& path) {
  std::string out;
  for (const auto& cells : testing::csv_cells(testing::read_file(path))) {
    for (size_t i = 0; i < cells.size(); ++i)
      if (i != 5 && i != 6) out += cells[i] + ",";
    out += "\n";
  }
  return out;
}

class ReliabilityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    testing::write_tiny_mnist(dir_->file("data"), 600, 100);
    run(tiny_config(dir_->file("data")), dir_->file("reference"));
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string reference(const std::string& file) { return dir_->file("reference/" + file); }

  static testing::TempDir* dir_;
  testing::TempDir tmp_;
};

testing::TempDir* ReliabilityTest::dir_ = nullptr;

TEST_F(ReliabilityTest, AStopSignalMidEpochCheckpointsAndResumesBitIdentically) {
  const auto c = tiny_config(dir_->file("data"));
  install_stop_handlers();
  {
    ScopedFault fault("sigint@14");  // raise SIGINT after the 14th step: epoch 2, step 4 of 10
    try {
      run(c, tmp_.file("run"));
      FAIL() << "expected the run to stop";
    } catch (const TrainingInterrupted& e) {
      EXPECT_EQ(e.signal, SIGINT);
      EXPECT_NE(std::string(e.what()).find("stopped by signal 2 at epoch 2, step 4 of 10"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("lvm train --resume " + tmp_.file("run")), std::string::npos)
          << e.what();
    }
  }
  const auto state = read_checkpoint_state(tmp_.file("run/checkpoints/last.pt"));
  EXPECT_EQ(state.epoch, 1);
  EXPECT_EQ(state.step, 4);
  EXPECT_EQ(state.epoch_examples, 200);
  std::string log;
  run(c, tmp_.file("run"), /*resume=*/true, &log);
  EXPECT_NE(log.find("resuming " + tmp_.file("run") + " after epoch 1 and 4 steps of epoch 2"),
            std::string::npos)
      << log;
  expect_same_parameters(tmp_.file("run/checkpoints/last.pt"), reference("checkpoints/last.pt"), c);
  expect_same_parameters(tmp_.file("run/checkpoints/best.pt"), reference("checkpoints/best.pt"), c);
  // The interrupted epoch's training ELBO is the same sum over the same batches.
  EXPECT_EQ(deterministic_metrics(tmp_.file("run/metrics.csv")),
            deterministic_metrics(reference("metrics.csv")));
}

// A run checkpointed on one device and resumed on another: the generator states do not fit each
// other (16 bytes for CUDA's, 5056 for the CPU's), so training goes on from this device's own
// generator and says so, instead of failing inside set_state.
TEST_F(ReliabilityTest, ACheckpointFromAnotherDevicesGeneratorResumesWithANote) {
  auto c = tiny_config(dir_->file("data"));
  c.train.epochs = 1;
  run(c, tmp_.file("run"));
  const auto last = tmp_.file("run/checkpoints/last.pt");
  auto model = make_model(c.model, {1, 8, 8});
  torch::optim::Adam adam(model->parameters());
  auto state = load_checkpoint(last, *model, &adam);
  ASSERT_EQ(state.rng_state.numel(), 5056);
  state.rng_state = torch::arange(16, torch::kUInt8);  // the size of a CUDA generator's state
  save_checkpoint(last, *model, &adam, state);

  c.train.epochs = 2;
  std::string log;
  const auto summary = run(c, tmp_.file("run"), /*resume=*/true, &log);
  EXPECT_NE(log.find("note: the checkpoint's random state is another device's generator's; on cpu the "
                     "training noise continues from this device's own generator"),
            std::string::npos)
      << log;
  EXPECT_EQ(summary.epochs, 2);
  EXPECT_EQ(read_checkpoint_state(last).epoch, 2);
}

TEST_F(ReliabilityTest, AStopOnTheLastStepOfAnEpochStopsAfterItsCheckpoint) {
  const auto c = tiny_config(dir_->file("data"));
  install_stop_handlers();
  {
    ScopedFault fault("sigint@10");
    try {
      run(c, tmp_.file("run"));
      FAIL() << "expected the run to stop";
    } catch (const TrainingInterrupted& e) {
      EXPECT_NE(std::string(e.what()).find("stopped by signal 2 after epoch 1"), std::string::npos)
          << e.what();
    }
  }
  const auto state = read_checkpoint_state(tmp_.file("run/checkpoints/last.pt"));
  EXPECT_EQ(state.epoch, 1);
  EXPECT_EQ(state.step, 0);
  run(c, tmp_.file("run"), /*resume=*/true);
  expect_same_parameters(tmp_.file("run/checkpoints/last.pt"), reference("checkpoints/last.pt"), c);
}

TEST_F(ReliabilityTest, PeriodicMidEpochCheckpointsDoNotChangeTheRun) {
  auto c = tiny_config(dir_->file("data"));
  c.train.checkpoint_every = 3;
  c.train.epochs = 2;
  run(c, tmp_.file("run"));
  // After the last epoch last.pt is an epoch-boundary checkpoint again.
  EXPECT_EQ(read_checkpoint_state(tmp_.file("run/checkpoints/last.pt")).step, 0);
  c.train.epochs = 3;
  run(c, tmp_.file("run"), /*resume=*/true);
  expect_same_parameters(tmp_.file("run/checkpoints/last.pt"), reference("checkpoints/last.pt"), c);
}

TEST_F(ReliabilityTest, ANonFiniteGradientStopsTheRunNamingStepBatchAndParameter) {
  const auto c = tiny_config(dir_->file("data"));
  ScopedFault fault("nan_gradient@13");  // epoch 2, step 3
  std::string log;
  try {
    run(c, tmp_.file("run"), false, &log);
    FAIL() << "expected a TrainingError";
  } catch (const TrainingError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("non-finite gradient of encoder."), std::string::npos) << what;
    EXPECT_NE(what.find("at epoch 2, step 3 of 10 (global step 13, batch index 2, 50 examples)"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("still holds epoch 1 (train.on_nonfinite: skip would skip such batches)"),
              std::string::npos)
        << what;
  }
  // last and best keep the state of epoch 1, as an uninterrupted one-epoch run writes it.
  auto one_epoch = c;
  one_epoch.train.epochs = 1;
  run(one_epoch, tmp_.file("one"));
  for (const char* name : {"checkpoints/last.pt", "checkpoints/best.pt"}) {
    EXPECT_EQ(read_checkpoint_state(tmp_.file("run/") + name).epoch, 1) << name;
    expect_same_parameters(tmp_.file("run/") + name, tmp_.file("one/") + name, c);
  }
}

TEST_F(ReliabilityTest, ANonFiniteValueBeforeTheFirstCheckpointLeavesNone) {
  const auto c = tiny_config(dir_->file("data"));
  ScopedFault fault("nan_gradient@1");
  try {
    run(c, tmp_.file("run"));
    FAIL() << "expected a TrainingError";
  } catch (const TrainingError& e) {
    EXPECT_NE(
        std::string(e.what()).find("at epoch 1, step 1 of 10 (global step 1, batch index 0, 50 examples); "
                                   "stopped before the first checkpoint"),
        std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(tmp_.file("run/checkpoints/last.pt")));
}

TEST_F(ReliabilityTest, TheSkipPolicySkipsTheBatchAndCountsIt) {
  auto c = tiny_config(dir_->file("data"));
  c.train.on_nonfinite = "skip";
  std::string log;
  {
    ScopedFault fault("nan_gradient@13");
    run(c, tmp_.file("run"), false, &log);
  }
  EXPECT_NE(log.find("skipped: non-finite gradient of encoder."), std::string::npos) << log;
  const auto metrics = testing::read_file(tmp_.file("run/metrics.csv"));
  const auto cells = testing::csv_cells(metrics);
  ASSERT_EQ(cells.size(), 4u) << metrics;
  const auto skipped = std::find(cells[0].begin(), cells[0].end(), "skipped_batches");
  ASSERT_NE(skipped, cells[0].end()) << metrics;
  const auto column = static_cast<size_t>(skipped - cells[0].begin());
  EXPECT_EQ(cells[1][column], "0");
  EXPECT_EQ(cells[2][column], "1");
  EXPECT_EQ(cells[3][column], "0");
  for (const auto& p : parameters_of(tmp_.file("run/checkpoints/last.pt"), c))
    EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
  // Epoch 1 is untouched by the skip; epoch 2 saw one batch fewer, so the runs part ways there.
  const auto first_lines = [](const std::string& text) {
    const auto end = text.find('\n', text.find('\n') + 1);  // header and epoch 1
    return text.substr(0, end);
  };
  EXPECT_EQ(first_lines(deterministic_metrics(tmp_.file("run/metrics.csv"))),
            first_lines(deterministic_metrics(reference("metrics.csv"))));

  c.train.max_skips_in_a_row = 1;
  ScopedFault fault("nan_gradient@2");
  try {
    run(c, tmp_.file("strict"));
    FAIL() << "expected a TrainingError";
  } catch (const TrainingError& e) {
    EXPECT_NE(std::string(e.what()).find("1 batches in a row were non-finite (train.max_skips_in_a_row)"),
              std::string::npos)
        << e.what();
  }
}

TEST(FaultInjection, ASpecIsPointAtArrival) {
  ::setenv("LVM_FAULT", "here@3", 1);
  util::reset_faults();
  EXPECT_FALSE(util::fault_hits("here"));
  EXPECT_FALSE(util::fault_hits("elsewhere"));
  EXPECT_FALSE(util::fault_hits("here"));
  EXPECT_TRUE(util::fault_hits("here"));
  EXPECT_FALSE(util::fault_hits("here"));
  ::setenv("LVM_FAULT", "here", 1);
  EXPECT_THROW(util::reset_faults(), std::invalid_argument);
  ::unsetenv("LVM_FAULT");
  util::reset_faults();
  EXPECT_FALSE(util::fault_hits("here"));
}

}  // namespace
}  // namespace lvm::train
