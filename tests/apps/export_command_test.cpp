// `lvm export` end to end: a run trained by `lvm train`, exported, and loaded with no lvm code.

#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>

#include "lvm/models/vae/vae.h"
#include "lvm/train/run_dir.h"
#include "tests/testing.h"

namespace lvm {
namespace {

using testing::run_lvm;

TEST(ExportCommand, ExportsATrainedRunThatLoadsWithoutLvm) {
  testing::TempDir dir;
  testing::write_tiny_mnist(dir.file("data"), 300, 50);
  testing::write_file(dir.file("tiny.yaml"),
                      "name: tiny\ndevice: cpu\nthreads: 1\n"
                      "model:\n  latent_dim: 2\n  encoder: {hidden: [16]}\n  decoder: {hidden: [16]}\n"
                      "data:\n  path: " +
                          dir.file("data") +
                          "\n  validation_size: 100\n"
                          "train:\n  epochs: 2\n  batch_size: 50\noutput:\n  progress: none\n");
  const auto run_dir = dir.file("run");
  const auto trained = run_lvm("train " + dir.file("tiny.yaml") + " --run-dir " + run_dir);
  ASSERT_EQ(trained.exit_code, 0) << trained.output;

  const auto out = dir.file("vae.pt");
  const auto exported = run_lvm("export " + run_dir + " -o " + out);
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_NE(exported.output.find("exported " + run_dir + "/checkpoints/best.pt (epoch "), std::string::npos)
      << exported.output;
  EXPECT_NE(
      exported.output.find("methods: encode, decode, decode_logits, sample, sample_mean, sample_latent, "
                           "reconstruct, elbo, log_likelihood, forward"),
      std::string::npos)
      << exported.output;

  // The file against the model lvm itself loads from the run.
  const auto run = train::load_run(run_dir, "best");
  auto m = torch::jit::load(out);
  EXPECT_EQ(m.attr("input_shape").toIntVector(), (std::vector<int64_t>{1, 8, 8}));
  EXPECT_EQ(m.attr("epoch").toInt(), run.state.epoch);
  EXPECT_EQ(m.attr("binarization").toStringRef(), "dynamic");
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({4, 1, 8, 8}).round();
  const auto mean = m.get_method("encode")({x}).toTuple()->elements()[0].toTensor();
  auto& vae = dynamic_cast<Vae&>(*run.model);
  EXPECT_TRUE(torch::allclose(mean, vae.encode(x.reshape({4, 64})).mean(), 1e-5, 1e-6));

  const auto last = run_lvm("export " + run_dir + " -o " + out + " --checkpoint last");
  ASSERT_EQ(last.exit_code, 0) << last.output;
  EXPECT_EQ(torch::jit::load(out).attr("epoch").toInt(), 2);
}

TEST(ExportCommand, ErrorsAndExitCodes) {
  testing::TempDir dir;
  const auto missing_output = run_lvm("export " + dir.file("run"));
  EXPECT_EQ(missing_output.exit_code, 2);
  EXPECT_NE(missing_output.output.find("--output is required"), std::string::npos) << missing_output.output;

  const auto no_run = run_lvm("export " + dir.file("run") + " -o " + dir.file("a.pt"));
  EXPECT_EQ(no_run.exit_code, 2);
  EXPECT_NE(no_run.output.find("lvm export: " + dir.file("run") + ": run directory does not exist"),
            std::string::npos)
      << no_run.output;

  // A run whose checkpoint is corrupt: a runtime error naming the file; the old output stays.
  std::filesystem::create_directories(dir.file("run/checkpoints"));
  testing::write_file(dir.file("run/config.yaml"), "name: x\n");
  testing::write_file(dir.file("run/checkpoints/best.pt"), "not a zip archive");
  testing::write_file(dir.file("a.pt"), "old");
  const auto corrupt = run_lvm("export " + dir.file("run") + " -o " + dir.file("a.pt"));
  EXPECT_EQ(corrupt.exit_code, 1);
  EXPECT_NE(corrupt.output.find(dir.file("run/checkpoints/best.pt") + ": not a readable checkpoint"),
            std::string::npos)
      << corrupt.output;
  EXPECT_EQ(testing::read_file(dir.file("a.pt")), "old");
}

}  // namespace
}  // namespace lvm
