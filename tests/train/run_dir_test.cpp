// Rebuilding a model from a run directory.

#include "lvm/train/run_dir.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "lvm/models/factory.h"
#include "lvm/train/checkpoint.h"
#include "lvm/util/files.h"
#include "tests/testing.h"

namespace lvm::train {
namespace {

// A run directory holding `cfg` and its model's parameters, as the trainers write it.
std::shared_ptr<LatentVariableModel> write_run(const std::string& dir, const config::ExperimentConfig& cfg,
                                               int64_t data_dim, bool record_dim) {
  std::filesystem::create_directories(dir + "/checkpoints");
  util::write_file_atomic(dir + "/config.yaml", config::to_yaml(cfg));
  auto model = make_model(cfg.model, data_dim);
  torch::manual_seed(1);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.copy_(torch::randn_like(p));
  }
  CheckpointState state;
  state.epoch = 3;
  state.config_yaml = config::to_yaml(cfg);
  state.data_dim = record_dim ? data_dim : 0;
  save_checkpoint(dir + "/checkpoints/best.pt", *model, nullptr, state);
  return model;
}

TEST(RunDir, LoadsTheModelWithItsDataDimension) {
  testing::TempDir dir;
  config::ExperimentConfig cfg;
  cfg.model.type = "gmm";
  cfg.model.objective = "exact";
  cfg.model.components = 3;
  cfg.data.dataset = "synthetic";
  for (bool record : {true, false}) {
    const std::string run = dir.file(record ? "recorded" : "inferred");
    auto original = write_run(run, cfg, 4, record);
    const auto loaded = load_run(run);
    EXPECT_EQ(loaded.data_dim, 4);
    EXPECT_EQ(loaded.state.epoch, 3);
    EXPECT_EQ(loaded.model->kind(), "gmm");
    EXPECT_FALSE(loaded.model->is_training());
    const auto x = torch::randn({5, 4}, torch::kDouble);
    EXPECT_TRUE(torch::equal(*loaded.model->exact_log_marginal(x), *original->exact_log_marginal(x)));
  }
}

TEST(RunDir, InfersTheDimensionOfAVaeCheckpointWithoutOne) {
  testing::TempDir dir;
  config::ExperimentConfig cfg;
  cfg.model.latent_dim = 2;
  cfg.model.encoder_hidden = {6};
  cfg.model.decoder_hidden = {6};
  write_run(dir.file("vae"), cfg, 9, /*record_dim=*/false);
  EXPECT_EQ(load_run(dir.file("vae")).data_dim, 9);
}

TEST(RunDir, MissingRunOrCheckpointNamesThePath) {
  testing::TempDir dir;
  try {
    load_run(dir.file("nothing"));
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("nothing: not a run directory"), std::string::npos) << e.what();
  }
  config::ExperimentConfig cfg;
  std::filesystem::create_directories(dir.file("run"));
  util::write_file_atomic(dir.file("run/config.yaml"), config::to_yaml(cfg));
  try {
    load_run(dir.file("run"), "last");
    FAIL() << "expected an error";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoints/last.pt: checkpoint not found"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace lvm::train
