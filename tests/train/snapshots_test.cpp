// Pictures during training: written on the epochs due, of the expected size, from noise that is
// the same every epoch, and without touching the training random stream (a run with pictures
// ends bit-identical to one without).

#include "lvm/train/snapshots.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <sstream>

#include "lvm/data/dataset.h"
#include "lvm/io/png.h"
#include "lvm/models/registry.h"
#include "lvm/train/checkpoint.h"
#include "lvm/train/trainer.h"
#include "tests/testing.h"

namespace lvm::train {
namespace {

namespace fs = std::filesystem;

config::ExperimentConfig tiny_config(const std::string& data_dir, int64_t epochs, int64_t image_every) {
  auto c = testing::tiny_vae_config(data_dir, epochs);
  c.data.validation_size = 50;
  c.train.seed = 5;
  c.output.image_every = image_every;
  return c;
}

void run(const config::ExperimentConfig& c, const std::string& dir, bool resume = false) {
  std::ostringstream log;
  train(TrainRequest{c, dir, resume, false, &log});
}

class SnapshotsTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_tiny_mnist(dir_.file("data"), 250, 40); }
  testing::TempDir dir_;
};

TEST(Snapshots, DueEpochsAndHelpers) {
  config::ExperimentConfig c;
  c.train.epochs = 7;
  c.output.image_every = 3;
  data::ImageDataset empty;
  const TrainingSnapshots every3(c, empty, "unused");
  EXPECT_FALSE(every3.due(1));
  EXPECT_TRUE(every3.due(3));
  EXPECT_TRUE(every3.due(6));
  EXPECT_TRUE(every3.due(7)) << "the last epoch always gets pictures";
  c.output.image_every = 0;
  const TrainingSnapshots off(c, empty, "unused");
  EXPECT_FALSE(off.due(7));

  EXPECT_EQ(display_scale(28, 28), 1);
  EXPECT_EQ(display_scale(8, 8), 3);
  EXPECT_EQ(display_scale(64, 64), 1);

  const auto top = torch::arange(5).unsqueeze(1), bottom = 10 + torch::arange(5).unsqueeze(1);
  const auto rows = interleave_rows(top, bottom, 2);
  EXPECT_TRUE(
      torch::equal(rows.squeeze(1), torch::tensor({0, 1, 10, 11, 2, 3, 12, 13, 4, 14}, torch::kLong)));
}

TEST(Snapshots, ImageEveryIsAConfigKey) {
  EXPECT_EQ(config::ExperimentConfig{}.output.image_every, 5);
  EXPECT_EQ(config::parse_config("output:\n  image_every: 0\n", "x.yaml").output.image_every, 0);
  try {
    config::parse_config("output:\n  image_every: -1\n", "x.yaml");
    FAIL() << "expected a ConfigError";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("x.yaml:2: output.image_every: expected an integer >= 0"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(SnapshotsTest, WritesPicturesOnDueEpochsWithoutChangingTraining) {
  const auto with = tiny_config(dir_.file("data"), 3, 2);
  const auto without = tiny_config(dir_.file("data"), 3, 0);
  run(with, dir_.file("with"));
  run(without, dir_.file("without"));

  const fs::path images = fs::path(dir_.file("with")) / "images";
  EXPECT_FALSE(fs::exists(images / "samples_epoch0001.png"));
  EXPECT_TRUE(fs::exists(images / "samples_epoch0002.png"));
  EXPECT_TRUE(fs::exists(images / "samples_epoch0003.png"));
  EXPECT_TRUE(fs::exists(images / "reconstructions_epoch0003.png"));
  EXPECT_FALSE(fs::exists(fs::path(dir_.file("without")) / "images"));

  // 8x8 images shown 3x (24 px) with 2 px padding: 64 samples in 8 rows of 8 -> 210 x 210;
  // 16 test images and 16 reconstructions in 4 rows -> 106 x 210.
  const auto samples = io::read_png((images / "samples_epoch0003.png").string());
  EXPECT_EQ(samples.sizes(), (std::vector<int64_t>{1, 210, 210}));
  const auto reconstructions = io::read_png((images / "reconstructions_epoch0003.png").string());
  EXPECT_EQ(reconstructions.sizes(), (std::vector<int64_t>{1, 106, 210}));

  // Same training with and without pictures: the metrics (bar timings) and the weights agree exactly.
  const auto metrics = [&](const std::string& run_dir) {
    std::istringstream lines(testing::read_file(dir_.file(run_dir + "/metrics.csv")));
    std::string line, kept;
    while (std::getline(lines, line)) {
      std::vector<std::string> cells;
      std::istringstream parts(line);
      std::string cell;
      while (std::getline(parts, cell, ',')) cells.push_back(cell);
      kept += cells[0] + cells[1] + cells[2] + cells[3] + cells[4] + cells[7] + "\n";
    }
    return kept;
  };
  EXPECT_EQ(metrics("with"), metrics("without"));
  auto a = make_model(with.model, {1, 8, 8}), b = make_model(with.model, {1, 8, 8});
  load_checkpoint(dir_.file("with/checkpoints/last.pt"), *a, nullptr);
  load_checkpoint(dir_.file("without/checkpoints/last.pt"), *b, nullptr);
  const auto pa = a->parameters(), pb = b->parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
}

TEST_F(SnapshotsTest, SameNoiseEveryTimeWhateverTheGlobalStream) {
  const auto c = tiny_config(dir_.file("data"), 2, 1);
  run(c, dir_.file("run"));
  // Redraw epoch 2's pictures from its checkpoint, with the global generator somewhere else:
  // the files come out byte for byte the same.
  auto model = make_model(c.model, {1, 8, 8});
  load_checkpoint(dir_.file("run/checkpoints/last.pt"), *model, nullptr);
  const auto dataset = data::load_image_dataset(c.data, torch::kCPU, c.train.seed);
  torch::manual_seed(987654);
  torch::randn({100});
  const auto state_before = at::globalContext().defaultGenerator(torch::kCPU).get_state();
  TrainingSnapshots snapshots(c, dataset, dir_.file("again"));
  snapshots.after_epoch(*model, 2);
  EXPECT_TRUE(torch::equal(at::globalContext().defaultGenerator(torch::kCPU).get_state(), state_before))
      << "drawing pictures must not move the global generator";
  for (const char* name : {"samples_epoch0002.png", "reconstructions_epoch0002.png"}) {
    EXPECT_EQ(testing::read_file(dir_.file(std::string("again/images/") + name)),
              testing::read_file(dir_.file(std::string("run/images/") + name)))
        << name;
  }
  // Epoch 1's samples differ from epoch 2's only because the model changed: same noise, other decoder.
  EXPECT_NE(testing::read_file(dir_.file("run/images/samples_epoch0001.png")),
            testing::read_file(dir_.file("run/images/samples_epoch0002.png")));
}

TEST_F(SnapshotsTest, ResumedRunWithPicturesMatchesAnUninterruptedOne) {
  auto c = tiny_config(dir_.file("data"), 3, 1);
  run(c, dir_.file("full"));
  auto first = c;
  first.train.epochs = 1;
  run(first, dir_.file("split"));
  run(c, dir_.file("split"), /*resume=*/true);
  auto a = make_model(c.model, {1, 8, 8}), b = make_model(c.model, {1, 8, 8});
  load_checkpoint(dir_.file("full/checkpoints/last.pt"), *a, nullptr);
  load_checkpoint(dir_.file("split/checkpoints/last.pt"), *b, nullptr);
  const auto pa = a->parameters(), pb = b->parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
  EXPECT_EQ(testing::read_file(dir_.file("full/images/samples_epoch0003.png")),
            testing::read_file(dir_.file("split/images/samples_epoch0003.png")));
}

}  // namespace
}  // namespace lvm::train
