// load_run: a trained model comes back from its run directory with the trained weights, and a
// directory that is not a run is a clear error.

#include "lvm/train/run_dir.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <sstream>

#include "lvm/models/gmm/gmm_config.h"
#include "lvm/models/registry.h"
#include "lvm/models/vae/vae_config.h"
#include "lvm/train/trainer.h"
#include "tests/testing.h"

namespace lvm::train {
namespace {

class RunDirTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    testing::write_tiny_mnist(dir_->file("data"), 200, 20);
    config_.name = "tiny";
    config_.device = "cpu";
    config_.threads = 1;
    config_.model.get<VaeConfig>().latent_dim = 3;
    config_.model.get<VaeConfig>().encoder.hidden = {8};
    config_.model.get<VaeConfig>().decoder.hidden = {8};
    config_.data.path = dir_->file("data");
    config_.data.validation_size = 40;
    config_.train.epochs = 2;
    config_.train.batch_size = 40;
    config_.output.progress = "none";
    config_.output.image_every = 0;
    std::ostringstream log;
    train(TrainRequest{config_, dir_->file("run"), false, false, &log});
  }
  static void TearDownTestSuite() { delete dir_; }

  static testing::TempDir* dir_;
  static config::ExperimentConfig config_;
};

testing::TempDir* RunDirTest::dir_ = nullptr;
config::ExperimentConfig RunDirTest::config_;

void expect_invalid(const std::function<void()>& f, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << what << "'";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST_F(RunDirTest, LoadsTheConfigAndTheCheckpointsWeights) {
  const auto run = load_run(dir_->file("run"), "last");
  EXPECT_EQ(run.config, config_);
  EXPECT_EQ(run.data_dim, 64);
  EXPECT_EQ(run.state.epoch, 2);
  EXPECT_EQ(run.state.data_shape, (std::vector<int64_t>{1, 8, 8}));
  EXPECT_FALSE(run.model->is_training());
  auto reference = make_model(config_.model, {1, 8, 8});
  load_checkpoint(dir_->file("run/checkpoints/last.pt"), *reference, nullptr);
  const auto a = run.model->parameters(), b = reference->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
  // "best" and an explicit path name files in the run.
  EXPECT_EQ(resolve_checkpoint_path("r", "best"), "r/checkpoints/best.pt");
  EXPECT_EQ(load_run(dir_->file("run"), dir_->file("run/checkpoints/best.pt")).state.best_epoch,
            load_run(dir_->file("run")).state.best_epoch);
}

TEST_F(RunDirTest, OlderCheckpointsWithoutDataShapeFallBackToTheDataSet) {
  testing::TempDir copy;
  std::filesystem::copy(dir_->file("run"), copy.path(), std::filesystem::copy_options::recursive);
  auto model = make_model(config_.model, {1, 8, 8});
  auto state = load_checkpoint(copy.file("checkpoints/best.pt"), *model, nullptr);
  state.data_shape.clear();  // as written before checkpoints recorded it
  save_checkpoint(copy.file("checkpoints/best.pt"), *model, nullptr, state);
  EXPECT_TRUE(read_checkpoint_state(copy.file("checkpoints/best.pt")).data_shape.empty());
  const auto run = load_run(copy.path());
  EXPECT_EQ(run.data_dim, 64);
}

TEST_F(RunDirTest, NotARunIsAClearError) {
  testing::TempDir empty;
  expect_invalid([&] { load_run(empty.file("nope")); }, "nope: run directory does not exist");
  expect_invalid([&] { load_run(empty.path()); }, empty.path() + ": not a run directory (no config.yaml");
  testing::write_file(empty.file("config.yaml"), testing::read_file(dir_->file("run/config.yaml")));
  try {
    load_run(empty.path(), "last");
    ADD_FAILURE() << "expected a CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoints/last.pt: checkpoint not found"), std::string::npos)
        << e.what();
  }
}

TEST(RunDir, LoadsAGaussianMixtureWithItsRecordedDimension) {
  testing::TempDir dir;
  config::ExperimentConfig cfg;
  cfg.model.set_type("gmm");
  cfg.model.get<GmmConfig>().objective = "exact";
  cfg.model.get<GmmConfig>().components = 3;
  cfg.data.dataset = "synthetic";
  std::filesystem::create_directories(dir.file("run/checkpoints"));
  testing::write_file(dir.file("run/config.yaml"), config::to_yaml(cfg));
  auto original = make_model(cfg.model, {4});
  torch::manual_seed(1);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : original->parameters()) p.copy_(torch::randn_like(p));
  }
  CheckpointState state;
  state.epoch = 3;
  state.config_yaml = config::to_yaml(cfg);
  state.data_shape = {4};
  save_checkpoint(dir.file("run/checkpoints/best.pt"), *original, nullptr, state);

  const auto loaded = load_run(dir.file("run"));
  EXPECT_EQ(loaded.data_dim, 4);
  EXPECT_EQ(loaded.model->kind(), "gmm");
  const auto x = torch::randn({5, 4}, torch::kDouble);
  EXPECT_TRUE(torch::equal(*loaded.model->exact_log_marginal(x), *original->exact_log_marginal(x)));

  // A checkpoint of another mixture (different K) does not load into this run's config.
  cfg.model.get<GmmConfig>().components = 5;
  state.config_yaml = config::to_yaml(cfg);
  save_checkpoint(dir.file("run/checkpoints/last.pt"), *make_model(cfg.model, {4}), nullptr, state);
  try {
    load_run(dir.file("run"), "last");
    ADD_FAILURE() << "expected a CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("model.components is 3 in config.yaml but 5 in the checkpoint"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace lvm::train
