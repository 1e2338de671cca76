// Checkpoints and TorchScript exports cross LibTorch versions: every build reads the files that
// each LibTorch version's build wrote (tests/versions/files/, see version_files.h), resumes the
// checkpoint's training and runs the export, and gets the numbers the writing build got.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <algorithm>
#include <filesystem>

#include "lvm/train/checkpoint.h"
#include "lvm/util/torch_compat.h"
#include "tests/versions/version_files.h"

namespace lvm::testing::versions {
namespace {

// The LibTorch versions whose files are committed; both directions (old -> new, new -> old) are
// checked by reading all of them in each build.
const std::vector<std::string> kWriters = {"1.13", "2.6"};

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  // The same arithmetic in another LibTorch build: agreement to float rounding.
  EXPECT_TRUE(torch::allclose(actual, expected, 1e-5, 1e-6))
      << what << ": max abs difference " << (actual - expected).abs().max().item<double>();
}

torch::Tensor reference(torch::serialize::InputArchive& archive, const std::string& key) {
  torch::Tensor t;
  archive.read(key, t);
  return t;
}

class WrittenBy : public ::testing::TestWithParam<std::string> {
 protected:
  std::string file(const std::string& name) const { return files_dir(GetParam()) + "/" + name; }
};

TEST_P(WrittenBy, CheckpointResumesWithItsOptimiserState) {
  ASSERT_TRUE(std::filesystem::exists(file("checkpoint.pt")))
      << "no files from LibTorch " << GetParam() << ": run build/tests/write_version_files in that build";
  torch::serialize::InputArchive expected;
  expected.load_from(file("reference.pt"));

  torch::manual_seed(99);  // other initial weights than the writer's: all must come from the file
  auto vae = make_vae();
  torch::optim::Adam adam(vae->parameters(), torch::optim::AdamOptions(1e-2));
  const auto state = train::load_checkpoint(file("checkpoint.pt"), *vae, &adam);
  EXPECT_EQ(state.epoch, 3);
  EXPECT_EQ(state.config_yaml, "# written by LibTorch " + GetParam() + "\n");
  {
    torch::NoGradGuard no_grad;
    expect_close(fixed_loss(*vae), reference(expected, "loss"), "loss");
  }
  for (const auto& p : vae->parameters()) {
    const auto found = adam.state().find(compat::optimizer_state_key(adam, p));
    ASSERT_NE(found, adam.state().end());
    ASSERT_NE(found->second, nullptr);
    EXPECT_EQ(static_cast<torch::optim::AdamParamState&>(*found->second).step(), 3);
  }
  // The next step uses the restored moments: the writer's parameters after its fourth step.
  fixed_step(*vae, adam);
  for (const auto& item : vae->named_parameters())
    expect_close(item.value().detach(), reference(expected, "next/" + item.key()), item.key());
}

TEST_P(WrittenBy, ExportLoadsAndComputesWhatTheWriterComputed) {
  ASSERT_TRUE(std::filesystem::exists(file("export.pt"))) << "no files from LibTorch " << GetParam();
  torch::serialize::InputArchive expected;
  expected.load_from(file("reference.pt"));
  auto m = torch::jit::load(file("export.pt"));
  EXPECT_EQ(m.attr("epoch").toInt(), 3);
  EXPECT_EQ(m.attr("latent_dim").toInt(), kLatentDim);
  torch::NoGradGuard no_grad;
  const auto encoded = m.get_method("encode")({fixed_x()}).toTuple();
  expect_close(encoded->elements()[0].toTensor(), reference(expected, "encode_mean"), "encode mean");
  // Images as stored ([B, 1, 3, 4]) too.
  const auto images = m.get_method("encode")({fixed_x().view({4, 1, 3, 4})}).toTuple();
  expect_close(images->elements()[0].toTensor(), reference(expected, "encode_mean"), "encode of images");
}

INSTANTIATE_TEST_SUITE_P(LibTorch, WrittenBy, ::testing::ValuesIn(kWriters), [](const auto& info) {
  std::string name = "v" + info.param;
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
});

// This build's own version must be among the writers, or its files are not being checked.
TEST(VersionFiles, ThisBuildsVersionHasFiles) {
  EXPECT_NE(std::find(kWriters.begin(), kWriters.end(), this_version()), kWriters.end())
      << "LibTorch " << this_version() << ": add its files (build/tests/write_version_files) to kWriters";
}

}  // namespace
}  // namespace lvm::testing::versions
