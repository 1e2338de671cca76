// Bad input through the `lvm` binary and load_run: damaged, foreign and future checkpoints, data of
// another size, bad arguments, memory that cannot hold a chunk, unwritable and full output places.
// Each gives a message naming the file, key or argument, a non-zero exit, and leaves the files that
// were there byte for byte as they were.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include <torch/serialize.h>
#include <torch/torch.h>

#include "lvm/data/idx.h"
#include "lvm/train/checkpoint.h"
#include "lvm/train/run_dir.h"
#include "tests/testing.h"

namespace lvm {
namespace {

namespace fs = std::filesystem;
using testing::read_file;
using testing::read_tree;
using testing::run_lvm;

class BadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    testing::write_tiny_mnist(dir_->file("data"), 400, 60);
    testing::write_file(dir_->file("tiny.yaml"), testing::tiny_vae_yaml(dir_->file("data")));
    const auto trained = run_lvm("train " + dir_->file("tiny.yaml") + " --run-dir " + dir_->file("run"));
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
    // The same data with a 3-D latent space: a checkpoint of another architecture.
    const auto other = run_lvm("train " + dir_->file("tiny.yaml") + " --run-dir " + dir_->file("other") +
                               " --set model.latent_dim=3 --set train.epochs=1");
    ASSERT_EQ(other.exit_code, 0) << other.output;
    // 10x10 images: data of another size than the model's 8x8.
    fs::create_directories(dir_->file("data10"));
    for (const char* split : {"train", "t10k"}) {
      data::write_idx(dir_->file("data10/") + split + "-images-idx3-ubyte",
                      torch::randint(0, 256, {200, 10, 10}).to(torch::kUInt8));
      data::write_idx(dir_->file("data10/") + split + "-labels-idx1-ubyte",
                      torch::randint(0, 4, {200}).to(torch::kUInt8));
    }
  }
  static void TearDownTestSuite() { delete dir_; }

  // A fresh copy of the trained run, for a test to damage.
  static std::string copy_run(const std::string& name) {
    const auto path = dir_->file(name);
    fs::remove_all(path);
    fs::copy(dir_->file("run"), path, fs::copy_options::recursive);
    return path;
  }
  static std::string contains(const std::string& output, const std::string& what) {
    return output.find(what) != std::string::npos ? "" : "'" + what + "' not in:\n" + output;
  }

  static testing::TempDir* dir_;
};
testing::TempDir* BadInput::dir_ = nullptr;

template <typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

// ---------------------------------------------------------------------------------------------
// Checkpoints.

TEST_F(BadInput, TruncatedCheckpointsAreNamedWhereverTheyAreRead) {
  const auto run = copy_run("cut");
  const auto bytes = read_file(run + "/checkpoints/best.pt");
  ASSERT_GT(bytes.size(), 1000u);
  // Empty, inside the header of the first zip entry, in the middle, and one byte short.
  for (const size_t size : {size_t{0}, size_t{10}, size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    testing::write_file(run + "/checkpoints/best.pt", bytes.substr(0, size));
    const auto message = message_of([&] { train::load_run(run, "best", torch::kCPU); });
    EXPECT_EQ(
        message.rfind(run + "/checkpoints/best.pt: not a readable checkpoint (truncated or corrupt file)", 0),
        0u)
        << "cut at " << size << ": " << message;
  }

  // Through the commands that read a checkpoint: eval, export (an existing export stays), resume.
  testing::write_file(dir_->file("cut.pt"), "an earlier export");
  const auto last = read_file(run + "/checkpoints/last.pt");
  testing::write_file(run + "/checkpoints/last.pt", last.substr(0, last.size() / 3));
  const auto before = read_tree(run);
  const std::string best_message = run + "/checkpoints/best.pt: not a readable checkpoint";
  const std::string last_message = run + "/checkpoints/last.pt: not a readable checkpoint";
  const auto eval = run_lvm("eval " + run + " --k 10");
  EXPECT_EQ(eval.exit_code, 1) << eval.output;
  EXPECT_EQ(contains(eval.output, best_message), "");
  const auto exported = run_lvm("export " + run + " -o " + dir_->file("cut.pt"));
  EXPECT_EQ(exported.exit_code, 1) << exported.output;
  EXPECT_EQ(contains(exported.output, best_message), "");
  EXPECT_EQ(read_file(dir_->file("cut.pt")), "an earlier export");
  const auto resumed = run_lvm("train --resume " + run + " --set train.epochs=3");
  EXPECT_EQ(resumed.exit_code, 1) << resumed.output;
  EXPECT_EQ(contains(resumed.output, last_message), "");
  EXPECT_EQ(read_tree(run), before);
}

TEST_F(BadInput, ACheckpointOfAnotherArchitectureInARunDirectoryIsRefused) {
  const auto run = copy_run("foreign");
  for (const char* name : {"best.pt", "last.pt"})
    fs::copy_file(dir_->file("other/checkpoints/") + name, run + "/checkpoints/" + name,
                  fs::copy_options::overwrite_existing);
  const auto before = read_tree(run);
  const std::string why = "model.latent_dim is 2 in config.yaml but 3 in the checkpoint";
  const auto message = message_of([&] { train::load_run(run, "best", torch::kCPU); });
  EXPECT_EQ(
      contains(message, run + "/checkpoints/best.pt does not belong to " + run + "/config.yaml: " + why), "");

  const auto eval = run_lvm("eval " + run + " --k 10");
  EXPECT_EQ(eval.exit_code, 1) << eval.output;
  EXPECT_EQ(contains(eval.output, "best.pt does not belong to " + run + "/config.yaml: " + why), "");
  const auto exported = run_lvm("export " + run + " -o " + dir_->file("foreign.pt"));
  EXPECT_EQ(exported.exit_code, 1) << exported.output;
  EXPECT_EQ(contains(exported.output, why), "");
  EXPECT_FALSE(fs::exists(dir_->file("foreign.pt")));
  // Resuming loads last.pt into a model built from config.yaml: the first weight that differs.
  const auto resumed = run_lvm("train --resume " + run + " --set train.epochs=3");
  EXPECT_EQ(resumed.exit_code, 1) << resumed.output;
  EXPECT_EQ(contains(resumed.output, run + "/checkpoints/last.pt: parameter '"), "");
  EXPECT_EQ(contains(resumed.output, "the checkpoint was written by another model architecture"), "");
  EXPECT_EQ(read_tree(run), before);
}

TEST_F(BadInput, ACheckpointFromANewerFormatIsRefused) {
  const auto run = copy_run("future");
  for (const char* name : {"best.pt", "last.pt"}) {
    torch::serialize::OutputArchive archive;
    archive.write("format_version", c10::IValue(train::kCheckpointFormatVersion + 1));
    archive.save_to(run + "/checkpoints/" + name);
  }
  const auto before = read_tree(run);
  const std::string newer = "checkpoint format version " +
                            std::to_string(train::kCheckpointFormatVersion + 1) +
                            " is newer than this lvm understands (" +
                            std::to_string(train::kCheckpointFormatVersion) + "); upgrade lvm";
  EXPECT_EQ(contains(message_of([&] { train::load_run(run, "last", torch::kCPU); }),
                     run + "/checkpoints/last.pt: " + newer),
            "");
  for (const std::string& command :
       {"eval " + run + " --k 10", "export " + run + " -o " + dir_->file("future.pt"),
        "train --resume " + run + " --set train.epochs=3"}) {
    const auto result = run_lvm(command);
    EXPECT_EQ(result.exit_code, 1) << command << "\n" << result.output;
    EXPECT_EQ(contains(result.output, ".pt: " + newer), "") << command;
  }
  EXPECT_FALSE(fs::exists(dir_->file("future.pt")));
  EXPECT_EQ(read_tree(run), before);
}

// ---------------------------------------------------------------------------------------------
// Data and arguments.

TEST_F(BadInput, DataOfAnotherImageSizeIsAUsageErrorNamingTheDirectory) {
  const auto run = dir_->file("run");
  const auto before = read_tree(run);
  const auto data10 = dir_->file("data10");
  // The three commands that read a run's data name the option alike (--data, or --data-path).
  for (const std::string& command :
       {"eval " + run + " --k 10 --data-path " + data10, "eval " + run + " --k 10 --data " + data10,
        "encode " + run + " -o " + dir_->file("z.csv") + " --data " + data10,
        "sample " + run + " --reconstruct -o " + dir_->file("r.png") + " --data-path " + data10}) {
    const auto result = run_lvm(command);
    EXPECT_EQ(result.exit_code, 2) << command << "\n" << result.output;
    EXPECT_EQ(contains(result.output,
                       data10 + ": images of 10x10 pixels, but the model was trained on 64 values per image"),
              "");
  }
  EXPECT_FALSE(fs::exists(dir_->file("z.csv")));
  EXPECT_FALSE(fs::exists(dir_->file("r.png")));
  EXPECT_EQ(read_tree(run), before);
}

TEST_F(BadInput, BadArgumentsNameTheArgument) {
  const auto run = dir_->file("run");
  struct Case {
    std::string args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"eval " + run + " --k 0", "--k must be >= 1, got 0"},
      {"eval " + run + " --k -3", "--k must be >= 1, got -3"},
      {"eval " + run + " --k abc", "--k"},
      {"eval " + run + " --chunk -1", "--chunk must be >= 0 (0: automatic), got -1"},
      {"eval " + run + " --max-memory -5", "--max-memory must be >= 0"},
      {"eval " + run + " --frobnicate", "--frobnicate"},
      {"eval " + dir_->file("nowhere"), dir_->file("nowhere") + ": run directory does not exist"},
      {"export " + dir_->file("nowhere") + " -o " + dir_->file("x.pt"),
       dir_->file("nowhere") + ": run directory does not exist"},
      {"encode " + run + " --limit -1", "--limit"},
      {"encode " + run + " --batch-size 0", "--batch-size"},
      {"sample " + run + " --manifold --latents", "--manifold and --latents: give one mode at a time"},
      {"train " + dir_->file("tiny.yaml") + " --resume " + run,
       "give either CONFIG or --resume RUN_DIR, not both"},
      {"train --resume " + run + " --overwrite", "--overwrite cannot be combined with --resume"},
      {"train --resume " + run + " --run-dir " + dir_->file("x"),
       "--run-dir cannot be combined with --resume"},
      {"train " + dir_->file("tiny.yaml") + " --epochs 3", "--epochs"},
      {"train " + dir_->file("tiny.yaml") + " --set train.epochs=0 --run-dir " + dir_->file("x"),
       "--set train.epochs=0: train.epochs: expected an integer >= 1, got 0"},
      {"train " + dir_->file("tiny.yaml") + " --set model.likelihood=poisson --run-dir " + dir_->file("x"),
       "model.likelihood: expected one of bernoulli|gaussian, got 'poisson'"},
  };
  const auto before = read_tree(run);
  for (const auto& c : cases) {
    const auto result = run_lvm(c.args);
    EXPECT_EQ(result.exit_code, 2) << c.args << "\n" << result.output;
    EXPECT_EQ(contains(result.output, c.message), "") << c.args;
  }
  EXPECT_FALSE(fs::exists(dir_->file("x")));
  EXPECT_FALSE(fs::exists(dir_->file("x.pt")));
  EXPECT_EQ(read_tree(run), before);
}

// ---------------------------------------------------------------------------------------------
// Memory.

TEST_F(BadInput, AnEvaluationChunkThatCannotFitIsRefusedUpFront) {
  const auto run = copy_run("memory");
  const auto before = read_tree(run);
  // One decoder row of the tiny model: z (2), hidden (2 x 16), logits and log-likelihood (2 x 64),
  // and z's log-densities (3 x 2): 162 floats, 648 + 24 = 672 bytes. 1000 samples x 60 examples.
  const auto too_big = run_lvm("eval " + run + " --k 1000 --chunk 1000 --max-memory 1");
  EXPECT_EQ(too_big.exit_code, 2) << too_big.output;
  EXPECT_EQ(contains(too_big.output,
                     "--chunk 1000: one chunk of 1000 samples for each of 60 examples needs about 38.5 MiB "
                     "(1000 x 60 decoder rows of 672 B), more than the 1.0 MiB allowed by --max-memory 1"),
            "");
  // More than any machine holds, against the memory available.
  const auto absurd = run_lvm("eval " + run + " --k 100000000000 --chunk 100000000000");
  EXPECT_EQ(absurd.exit_code, 2) << absurd.output;
  EXPECT_EQ(contains(absurd.output, "of memory available; use a smaller --chunk or --batch-size"), "");
  EXPECT_EQ(read_tree(run), before);

  // Without --chunk, the chunk is cut to fit: floor(2^20 / (60 x 672)) = 26 samples.
  const auto fitted = run_lvm("eval " + run + " --k 100 --max-memory 1 --progress none");
  ASSERT_EQ(fitted.exit_code, 0) << fitted.output;
  EXPECT_EQ(contains(read_file(run + "/eval.json"), "\"chunk\": 26,"), "");
}

TEST_F(BadInput, ATrainingStepThatCannotFitIsAConfigErrorBeforeAnythingIsWritten) {
  const auto target = dir_->file("huge");
  const auto rows = run_lvm("train " + dir_->file("tiny.yaml") + " --run-dir " + target +
                            " --set model.k=100000000 --set train.batch_size=100000000");
  EXPECT_EQ(rows.exit_code, 2) << rows.output;
  EXPECT_EQ(contains(rows.output,
                     "config error: model.k 100000000 x train.batch_size 100000000: one training "
                     "step runs 1e+16 rows through the model"),
            "");
  EXPECT_EQ(contains(rows.output, "of memory available; lower train.batch_size or model.k"), "");
  const auto wide = run_lvm("train " + dir_->file("tiny.yaml") + " --run-dir " + target +
                            " --set 'model.encoder.hidden=[100000000000]'");
  EXPECT_EQ(wide.exit_code, 2) << wide.output;
  EXPECT_EQ(contains(wide.output,
                     "model.encoder.hidden [100000000000], model.decoder.hidden [16], "
                     "model.latent_dim 2: the networks have 6.9e+12 weights"),
            "");
  EXPECT_FALSE(fs::exists(target));
}

// ---------------------------------------------------------------------------------------------
// Output places: a run directory that holds a run, an unwritable one, a full disk.

TEST_F(BadInput, ARunIsNeverOverwrittenWithoutOverwriteAndResumingNeedsARun) {
  const auto run = copy_run("kept");
  const auto before = read_tree(run);
  const auto again = run_lvm("train " + dir_->file("tiny.yaml") + " --run-dir " + run);
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_EQ(contains(again.output, "run directory " + run + " already holds a run; pass --resume " + run),
            "");
  EXPECT_EQ(read_tree(run), before);

  // --resume on a directory without a run, or with a config but no checkpoint.
  fs::create_directories(dir_->file("empty"));
  const auto nothing = run_lvm("train --resume " + dir_->file("empty"));
  EXPECT_EQ(nothing.exit_code, 2) << nothing.output;
  EXPECT_EQ(contains(nothing.output, "--resume " + dir_->file("empty") + ": no run there (" +
                                         dir_->file("empty") + "/config.yaml not found)"),
            "");
  const auto half = copy_run("half");
  fs::remove_all(half + "/checkpoints");
  const auto no_checkpoint = run_lvm("train --resume " + half);
  EXPECT_EQ(no_checkpoint.exit_code, 2) << no_checkpoint.output;
  EXPECT_EQ(contains(no_checkpoint.output, "--resume " + half + ": no checkpoint to resume from (" + half +
                                               "/checkpoints/last.pt not found)"),
            "");
  EXPECT_TRUE(fs::is_empty(dir_->file("empty")));
}

TEST_F(BadInput, AFullDiskLeavesThePreviousFilesIntact) {
  // RLIMIT_FSIZE makes every write past the limit fail with EFBIG, as ENOSPC would on a full disk.
  const auto run = copy_run("full");
  testing::write_file(run + "/eval.json", "{}\n");
  testing::write_file(dir_->file("full.pt"), "an earlier export");
  const auto before = read_tree(run);
  testing::RunOptions tiny_files;
  tiny_files.file_size_limit = 100;

  const auto eval = run_lvm("eval " + run + " --k 10 --progress none", tiny_files);
  EXPECT_EQ(eval.exit_code, 1) << eval.output;
  EXPECT_EQ(contains(eval.output, run + "/eval.json: write failed: File too large"), "");
  const auto exported = run_lvm("export " + run + " -o " + dir_->file("full.pt"), tiny_files);
  EXPECT_EQ(exported.exit_code, 1) << exported.output;
  EXPECT_EQ(contains(exported.output, dir_->file("full.pt") + ": write failed: File too large"), "");
  EXPECT_EQ(read_file(dir_->file("full.pt")), "an earlier export");

  // Resuming: config.yaml and metrics.csv fit in 4 KiB, a checkpoint does not.
  testing::RunOptions small_files;
  small_files.file_size_limit = 4096;
  const auto resumed = run_lvm("train --resume " + run + " --set train.epochs=3", small_files);
  EXPECT_EQ(resumed.exit_code, 1) << resumed.output;
  // The epoch improves on the best, so best.pt is the first checkpoint it writes (last.pt follows).
  EXPECT_EQ(contains(resumed.output, run + "/checkpoints/best.pt: write failed: File too large"), "");
  auto after = read_tree(run);
  // The resumed config says epochs: 3; everything else, checkpoints included, is as it was, and
  // no temporary file is left behind.
  EXPECT_EQ(contains(after.at("config.yaml"), "epochs: 3"), "");
  after["config.yaml"] = before.at("config.yaml");
  EXPECT_EQ(after, before);
  for (const auto& entry : fs::directory_iterator(dir_->path()))
    EXPECT_EQ(entry.path().filename().string().find("full.pt.tmp"), std::string::npos) << entry.path();
}

TEST_F(BadInput, AnUnwritableRunDirectoryIsNamedAndLeftAsItWas) {
  const auto run = copy_run("readonly");
  testing::write_file(run + "/eval.json", "{}\n");
  testing::RunOptions options;
  if (testing::running_as_root()) {
    // Root writes through permission bits: run the commands as nobody, who may read the run
    // (and the data, and the binary) but own nothing.
    options.drop_root = true;
    fs::permissions(dir_->path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                      fs::perms::others_read | fs::perms::others_exec);
  }
  fs::permissions(run, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                           fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  const auto before = read_tree(run);

  const auto eval = run_lvm("eval " + run + " --k 10", options);
  if (eval.exit_code == testing::kCannotDropRoot)
    GTEST_SKIP() << "cannot switch to user nobody to test permissions as root";
  EXPECT_EQ(eval.exit_code, 2) << eval.output;
  EXPECT_EQ(contains(eval.output,
                     run + "/eval.json: cannot write there (run directory " + run + " is not writable)"),
            "");
  const auto per_example =
      run_lvm("eval " + dir_->file("run") + " --k 10 --per-example " + run + "/x.csv", options);
  EXPECT_EQ(per_example.exit_code, 2) << per_example.output;
  EXPECT_EQ(contains(per_example.output, "--per-example " + run + "/x.csv: cannot write there (directory " +
                                             run + " is not writable)"),
            "");
  const auto resumed = run_lvm("train --resume " + run + " --set train.epochs=3", options);
  EXPECT_NE(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(contains(resumed.output, run + "/config.yaml: cannot write: Permission denied"), "");
  const auto encoded = run_lvm("encode " + run, options);
  EXPECT_EQ(encoded.exit_code, 2) << encoded.output;
  EXPECT_EQ(contains(encoded.output, run + "/latents_test.csv: cannot write there"), "");
  EXPECT_EQ(read_tree(run), before);
  fs::permissions(run, fs::perms::owner_all);
}

}  // namespace
}  // namespace lvm
