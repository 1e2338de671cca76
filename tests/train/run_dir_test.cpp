#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "lvm/config/config.h"
#include "lvm/models/factory.h"
#include "lvm/models/vae.h"
#include "lvm/train/checkpoint.h"
#include "lvm/train/run_dir.h"
#include "tests/testing.h"

namespace lvm::train {
namespace {

config::ExperimentConfig small_config() {
  config::ExperimentConfig cfg;
  cfg.model.latent_dim = 3;
  cfg.model.encoder_hidden = {5};
  cfg.model.decoder_hidden = {4};
  return cfg;
}

// A run directory as `lvm train` leaves it: config.yaml and checkpoints/{best,last}.pt.
std::shared_ptr<LatentVariableModel> write_run(const std::string& dir, int64_t stored_data_dim) {
  const auto cfg = small_config();
  std::filesystem::create_directories(dir + "/checkpoints");
  testing::write_file(dir + "/config.yaml", config::to_yaml(cfg));
  torch::manual_seed(7);
  auto model = make_model(cfg.model, 12);
  CheckpointState state;
  state.epoch = 4;
  state.data_dim = stored_data_dim;
  save_checkpoint(dir + "/checkpoints/best.pt", *model, nullptr, state);
  return model;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(RunDir, LoadsTheCheckpointIntoTheConfiguredModel) {
  testing::TempDir dir;
  for (int64_t stored : {12, 0}) {  // 0: an older checkpoint without data_dim, inferred from the encoder
    const auto original = write_run(dir.path(), stored);
    const auto run = load_run(dir.path());
    EXPECT_EQ(run.data_dim, 12);
    EXPECT_EQ(run.state.epoch, 4);
    EXPECT_EQ(run.model->kind(), "vae");
    EXPECT_EQ(run.model->latent_dim(), 3);
    EXPECT_FALSE(run.model->is_training());
    const auto a = original->parameters(), b = run.model->parameters();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i]));
  }
}

TEST(RunDir, MissingPiecesAreNamed) {
  testing::TempDir dir;
  EXPECT_NE(message_of([&] {
              load_run(dir.file("nope"));
            }).find("run directory " + dir.file("nope") + " not found"),
            std::string::npos);
  EXPECT_NE(message_of([&] { load_run(dir.path()); }).find("holds no run (" + dir.file("config.yaml")),
            std::string::npos);
  write_run(dir.path(), 12);
  EXPECT_NE(message_of([&] { load_run(dir.path(), "last"); }).find("has no last checkpoint"),
            std::string::npos);
  EXPECT_NE(message_of([&] { load_run(dir.path(), "final"); }).find("unknown checkpoint 'final'"),
            std::string::npos);
  testing::write_file(dir.file("checkpoints/best.pt"), "garbage");
  EXPECT_THROW(load_run(dir.path()), CheckpointError);
}

TEST(Checkpoint, StoresTheDataDimension) {
  testing::TempDir dir;
  write_run(dir.path(), 12);
  EXPECT_EQ(read_checkpoint_state(dir.file("checkpoints/best.pt")).data_dim, 12);
}

}  // namespace
}  // namespace lvm::train
