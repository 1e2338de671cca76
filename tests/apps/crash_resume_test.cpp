// `lvm train` killed with SIGKILL anywhere (mid-step, mid-checkpoint-write, just before a rename,
// at a random moment) leaves only whole files behind, and `lvm train --resume` then ends with
// parameters bit-identical to an uninterrupted run. Faults are placed with LVM_FAULT (see
// lvm/util/fault.h); the random kills come from timeout(1).

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "lvm/config/config.h"
#include "lvm/models/registry.h"
#include "lvm/train/checkpoint.h"
#include "lvm/train/trainer.h"
#include "tests/testing.h"

namespace lvm {
namespace {

namespace fs = std::filesystem;

constexpr int kKilled = 128 + 9;  // run_lvm's exit code for a process ended by SIGKILL

// 500 examples in batches of 50: 10 steps per epoch, 3 epochs, last.pt also every 4 steps.
std::string tiny_yaml(const std::string& data_dir) {
  auto c = testing::tiny_vae_config(data_dir, 3);
  c.name = "crash";
  c.train.seed = 9;
  c.train.checkpoint_every = 4;
  c.output.progress = "lines";  // the tests wait for its lines
  return config::to_yaml(c);
}

// `lvm ARGS` as a child process whose output we read as it comes, to signal it at a known point.
class Child {
 public:
  explicit Child(const std::string& args) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::close(fds[1]);
      const std::string command =
          "exec " + std::string(LVM_BINARY) + " " + args;  // signals reach lvm, not sh
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) wait();
  }

  /// Reads output until it contains `text` (true) or the child closes it (false).
  bool read_until(const std::string& text) {
    char buffer[4096];
    while (output_.find(text) == std::string::npos) {
      const ssize_t n = ::read(fd_, buffer, sizeof buffer);
      if (n <= 0) return false;
      output_.append(buffer, static_cast<size_t>(n));
    }
    return true;
  }
  void signal(int number) { ::kill(pid_, number); }
  /// Waits for the exit; the code as a shell reports it (128 + N for signal N).
  int wait() {
    read_until(std::string(1, '\0'));  // drain to end of file
    ::close(fd_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string output_;
};

testing::CommandResult run_with_fault(const std::string& fault, const std::string& args) {
  ::setenv("LVM_FAULT", fault.c_str(), 1);
  auto result = testing::run_lvm(args);
  ::unsetenv("LVM_FAULT");
  return result;
}

std::vector<torch::Tensor> parameters_of(const std::string& checkpoint) {
  auto state = train::read_checkpoint_state(checkpoint);
  auto model = make_model(config::parse_config(state.config_yaml, checkpoint).model, {1, 8, 8});
  train::load_checkpoint(checkpoint, *model, nullptr);
  return model->parameters();
}

// Every file a reader may open is whole: checkpoints load, metrics.csv has full rows, config.yaml
// parses. Temporaries of the killed process may remain; nothing reads them.
void expect_only_whole_files(const std::string& run_dir) {
  for (const char* name : {"last.pt", "best.pt"}) {
    const std::string path = run_dir + "/checkpoints/" + name;
    if (fs::exists(path)) {
      EXPECT_NO_THROW(parameters_of(path)) << path;
    }
  }
  if (fs::exists(run_dir + "/config.yaml")) {
    EXPECT_NO_THROW(config::load_config(run_dir + "/config.yaml"));
  }
  if (fs::exists(run_dir + "/metrics.csv")) {
    std::istringstream lines(testing::read_file(run_dir + "/metrics.csv"));
    const std::string header = train::kMetricsHeader;
    const auto commas = std::count(header.begin(), header.end(), ',');
    std::string line;
    while (std::getline(lines, line))
      EXPECT_EQ(std::count(line.begin(), line.end(), ','), commas) << "metrics.csv row '" << line << "'";
  }
}

// Resumes (or, killed before its first checkpoint, restarts) until the run completes.
void finish(const std::string& yaml, const std::string& run_dir) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    const bool resumable = fs::exists(run_dir + "/checkpoints/last.pt");
    const auto result = resumable ? testing::run_lvm("train --resume " + run_dir)
                                  : testing::run_lvm("train " + yaml + " --overwrite --run-dir " + run_dir);
    if (result.exit_code == 0) return;
    ADD_FAILURE() << "attempt " << attempt << " exited " << result.exit_code << ":\n" << result.output;
  }
}

class CrashResumeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    testing::write_tiny_mnist(dir_->file("data"), 600, 100);
    testing::write_file(dir_->file("tiny.yaml"), tiny_yaml(dir_->file("data")));
    const auto reference = testing::run_lvm("train " + yaml() + " --run-dir " + dir_->file("reference"));
    ASSERT_EQ(reference.exit_code, 0) << reference.output;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string yaml() { return dir_->file("tiny.yaml"); }

  void expect_matches_reference(const std::string& run_dir) {
    for (const char* name : {"last.pt", "best.pt"}) {
      const auto a = parameters_of(run_dir + "/checkpoints/" + name);
      const auto b = parameters_of(dir_->file("reference/checkpoints/") + name);
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i)
        EXPECT_TRUE(torch::equal(a[i], b[i])) << name << " parameter " << i;
    }
  }

  static testing::TempDir* dir_;
  testing::TempDir tmp_;
};

testing::TempDir* CrashResumeTest::dir_ = nullptr;

TEST_F(CrashResumeTest, KilledAtEachFaultPointThenResumedEndsBitIdentical) {
  // Write order in a run: config.yaml, metrics.csv, then last.pt at steps 4 and 8, at the end of
  // epoch 1 best.pt, last.pt, metrics.csv, then last.pt at steps 14, 18, ... Every epoch of this run
  // improves, so best.pt@3 is the last epoch's: killed there, only a replay rewrites it.
  for (const std::string fault :
       {"step@17", "partial_write:last.pt@2", "before_rename:last.pt@3", "partial_write:best.pt@2",
        "before_rename:metrics.csv@3", "before_rename:best.pt@3", "partial_write:config.yaml@1", "step@1"}) {
    SCOPED_TRACE(fault);
    const std::string run_dir =
        tmp_.file(fault.substr(0, fault.find(':')) + "_" + std::to_string(std::hash<std::string>{}(fault)));
    const auto killed = run_with_fault(fault, "train " + yaml() + " --run-dir " + run_dir);
    EXPECT_EQ(killed.exit_code, kKilled) << killed.output;
    expect_only_whole_files(run_dir);
    finish(yaml(), run_dir);
    expect_matches_reference(run_dir);
    // The killed process's temporaries are cleared by the writes that followed.
    for (const auto& entry : fs::recursive_directory_iterator(run_dir))
      EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
  }
}

TEST_F(CrashResumeTest, KilledAtRandomMomentsThenResumedEndsBitIdentical) {
  // Kills at random moments of training (after start-up, so that they land in steps, evaluations
  // or writes), each resume killed again, until one resume is left to finish.
  const std::string run_dir = tmp_.file("run");
  std::srand(7);
  int kills_while_training = 0;
  for (int kill = 0; kill < 4; ++kill) {
    const bool resume = fs::exists(run_dir + "/checkpoints/last.pt");
    Child child(resume ? "train --resume " + run_dir
                       : "train " + yaml() + " --overwrite --run-dir " + run_dir);
    if (child.read_until(resume ? "resuming" : "training crash")) {
      ::usleep(static_cast<useconds_t>(1000 * (std::rand() % 100)));  // training takes ~0.2 s here
      child.signal(SIGKILL);
    }
    if (child.wait() == 128 + SIGKILL) ++kills_while_training;
    expect_only_whole_files(run_dir);
  }
  EXPECT_GE(kills_while_training, 1);
  finish(yaml(), run_dir);
  expect_matches_reference(run_dir);
}

TEST_F(CrashResumeTest, SigtermStopsCleanlyAndResumeEndsBitIdentical) {
  const std::string run_dir = tmp_.file("run");
  Child child("train " + yaml() + " --run-dir " + run_dir);
  ASSERT_TRUE(child.read_until("epoch   1/3")) << child.output();
  child.signal(SIGTERM);
  const int code = child.wait();
  if (code == 0) GTEST_SKIP() << "the run finished before the signal arrived";
  EXPECT_EQ(code, 128 + SIGTERM) << child.output();
  EXPECT_NE(child.output().find("lvm train: stopped by signal 15"), std::string::npos) << child.output();
  EXPECT_NE(child.output().find("continue with lvm train --resume " + run_dir), std::string::npos)
      << child.output();
  expect_only_whole_files(run_dir);
  finish(yaml(), run_dir);
  expect_matches_reference(run_dir);
}

TEST_F(CrashResumeTest, SigintExitsWith130AtAStepBoundary) {
  const std::string run_dir = tmp_.file("run");
  const auto stopped = run_with_fault("sigint@6", "train " + yaml() + " --run-dir " + run_dir);
  EXPECT_EQ(stopped.exit_code, 130) << stopped.output;
  EXPECT_NE(stopped.output.find("stopped by signal 2 at epoch 1, step 6 of 10"), std::string::npos)
      << stopped.output;
  EXPECT_EQ(train::read_checkpoint_state(run_dir + "/checkpoints/last.pt").step, 6);
  finish(yaml(), run_dir);
  expect_matches_reference(run_dir);
}

TEST_F(CrashResumeTest, AnExportKilledMidWriteLeavesThePreviousExport) {
  const std::string model = tmp_.file("model.pt");
  const auto first = testing::run_lvm("export " + dir_->file("reference") + " --output " + model);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto before = testing::read_file(model);
  for (const std::string fault : {"partial_write:model.pt@1", "before_rename:model.pt@1"}) {
    const auto killed =
        run_with_fault(fault, "export " + dir_->file("reference") + " --checkpoint last --output " + model);
    EXPECT_EQ(killed.exit_code, kKilled) << fault << ": " << killed.output;
    EXPECT_EQ(testing::read_file(model), before) << fault;
  }
  const auto again = testing::run_lvm("export " + dir_->file("reference") + " --output " + model);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  for (const auto& entry : fs::directory_iterator(tmp_.path()))
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
}

}  // namespace
}  // namespace lvm
