// `lvm sample` and `lvm encode` end to end on small models trained once for the suite: each mode
// writes a PNG of the expected size showing what it should (checked against the model run in
// this process), the CSV holds the encoder's output, and bad arguments are exit-2 errors that
// name the argument.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <sstream>

#include "lvm/data/dataset.h"
#include "lvm/distributions/normal.h"
#include "lvm/io/png.h"
#include "lvm/io/scatter_plot.h"
#include "lvm/models/vae/vae_config.h"
#include "lvm/represent/encoding.h"
#include "lvm/train/run_dir.h"
#include "lvm/train/trainer.h"
#include "tests/testing.h"

namespace lvm {
namespace {

using testing::run_lvm;

// 8x8 images are shown 3x enlarged (24 px) with 2 px of padding: a grid cell is 26 px.
constexpr int64_t kPixels = 24, kCell = 26;

int64_t grid_side(int64_t cells) { return cells * kCell + 2; }

class SampleCommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    testing::write_tiny_mnist(dir_->file("data"), 300, 40);
    for (int64_t latent_dim : {2, 5}) {
      config::ExperimentConfig c;
      c.name = "tiny";
      c.device = "cpu";
      c.threads = 1;
      c.model.get<VaeConfig>().latent_dim = latent_dim;
      c.model.get<VaeConfig>().encoder.hidden = {16};
      c.model.get<VaeConfig>().decoder.hidden = {16};
      c.data.path = dir_->file("data");
      c.data.validation_size = 50;
      c.train.epochs = 1;
      c.train.batch_size = 50;
      c.train.lr = 3e-3;
      c.output.progress = "none";
      c.output.image_every = 0;
      std::ostringstream log;
      train::train(train::TrainRequest{c, run_dir(latent_dim), false, false, &log});
    }
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string run_dir(int64_t latent_dim) { return dir_->file("run" + std::to_string(latent_dim)); }
  static std::string out(const std::string& name) { return dir_->file(name); }

  // The test images as the model sees them, [40, 64].
  static torch::Tensor test_images(const train::LoadedRun& run) {
    const auto dataset = data::load_image_dataset(run.config.data, torch::kCPU, run.config.train.seed);
    return represent::model_view(dataset.test.images, dataset.binarization);
  }

  static testing::TempDir* dir_;
};

testing::TempDir* SampleCommandTest::dir_ = nullptr;

// The grid cell at (row, column) of a grey picture: [24, 24] as int.
torch::Tensor cell(const torch::Tensor& png, int64_t row, int64_t column) {
  return png[0].narrow(0, row * kCell + 2, kPixels).narrow(1, column * kCell + 2, kPixels).to(torch::kInt);
}

// What an 8x8 image [64] in [0, 1] looks like in a cell.
torch::Tensor shown(const torch::Tensor& image) {
  return io::to_uint8(image.reshape({8, 8})).repeat_interleave(3, 0).repeat_interleave(3, 1).to(torch::kInt);
}

// Decoded pixels may differ from this process's by float rounding (other thread counts): at
// most one grey level.
void expect_close(const torch::Tensor& cell_pixels, const torch::Tensor& image, const std::string& what) {
  EXPECT_LE((cell_pixels - shown(image)).abs().max().item<int>(), 1) << what;
}

torch::Tensor decode_mean(train::LoadedRun& run, const torch::Tensor& z) {
  torch::NoGradGuard no_grad;
  return run.model->likelihood(z)->mean();
}

torch::Tensor posterior_mean(train::LoadedRun& run, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return run.model->proposal(x)->mean();
}

void expect_ok(const testing::CommandResult& r) { ASSERT_EQ(r.exit_code, 0) << r.output; }

void expect_usage_error(const std::string& args, const std::string& message) {
  const auto r = run_lvm(args);
  EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
}

TEST_F(SampleCommandTest, SamplesAsMeansOrBinaryDraws) {
  // The default output: RUN_DIR/samples.png; 16 samples make 4 rows of 4.
  const auto r = run_lvm("sample " + run_dir(2) + " --n 16");
  expect_ok(r);
  EXPECT_NE(r.output.find(run_dir(2) + "/samples.png"), std::string::npos) << r.output;
  const auto png = io::read_png(run_dir(2) + "/samples.png");
  EXPECT_EQ(png.sizes(), (std::vector<int64_t>{1, grid_side(4), grid_side(4)}));

  expect_ok(run_lvm("sample " + run_dir(2) + " --n 16 --binary -o " + out("binary.png")));
  const auto binary = io::read_png(out("binary.png"));
  EXPECT_EQ(binary.sizes(), png.sizes());
  EXPECT_TRUE(torch::all((binary == 0) | (binary == 255)).item<bool>()) << "draws from p(x|z) are 0 or 1";
  EXPECT_FALSE(torch::equal(binary, png));
}

TEST_F(SampleCommandTest, ReconstructionsShowTheImagesAboveTheirReconstructions) {
  expect_ok(run_lvm("sample " + run_dir(2) + " --reconstruct --n 8 --nrow 4 -o " + out("rec.png")));
  const auto png = io::read_png(out("rec.png"));
  ASSERT_EQ(png.sizes(), (std::vector<int64_t>{1, grid_side(4), grid_side(4)}));
  auto run = train::load_run(run_dir(2));
  const auto x = test_images(run).narrow(0, 0, 8);
  const auto reconstructions = decode_mean(run, posterior_mean(run, x));
  for (int64_t k = 0; k < 8; ++k) {
    const int64_t row = 2 * (k / 4), column = k % 4;
    EXPECT_TRUE(torch::equal(cell(png, row, column), shown(x[k]))) << "image " << k;
    expect_close(cell(png, row + 1, column), reconstructions[k], "reconstruction " + std::to_string(k));
  }
}

TEST_F(SampleCommandTest, InterpolationRunsBetweenThePosteriorMeans) {
  expect_ok(run_lvm("sample " + run_dir(2) + " --interpolate 0 3 --steps 5 -o " + out("interp.png")));
  const auto png = io::read_png(out("interp.png"));
  ASSERT_EQ(png.sizes(), (std::vector<int64_t>{1, grid_side(1), grid_side(7)}));
  auto run = train::load_run(run_dir(2));
  const auto images = test_images(run);
  EXPECT_TRUE(torch::equal(cell(png, 0, 0), shown(images[0])));
  EXPECT_TRUE(torch::equal(cell(png, 0, 6), shown(images[3])));
  const auto z = posterior_mean(run, torch::stack({images[0], images[3]}));
  const auto midpoint = decode_mean(run, (0.5 * (z[0] + z[1])).unsqueeze(0))[0];
  expect_close(cell(png, 0, 1), decode_mean(run, z.narrow(0, 0, 1))[0], "t = 0");
  expect_close(cell(png, 0, 3), midpoint, "t = 1/2");
  expect_close(cell(png, 0, 5), decode_mean(run, z.narrow(0, 1, 1))[0], "t = 1");

  // Spherical: same ends, another path in between.
  expect_ok(
      run_lvm("sample " + run_dir(2) + " --interpolate 0 3 --steps 5 --spherical -o " + out("slerp.png")));
  const auto slerp = io::read_png(out("slerp.png"));
  ASSERT_EQ(slerp.sizes(), png.sizes());
  expect_close(cell(slerp, 0, 1), decode_mean(run, z.narrow(0, 0, 1))[0], "slerp t = 0");
  expect_close(cell(slerp, 0, 5), decode_mean(run, z.narrow(0, 1, 1))[0], "slerp t = 1");
}

TEST_F(SampleCommandTest, TraversalSweepsEachDimensionInOrderOfKl) {
  const auto r =
      run_lvm("sample " + run_dir(5) + " --traverse --index 2 --steps 3 --dims 3 -o " + out("trav.png"));
  expect_ok(r);
  const auto png = io::read_png(out("trav.png"));
  ASSERT_EQ(png.sizes(), (std::vector<int64_t>{1, grid_side(3), grid_side(3)}));
  auto run = train::load_run(run_dir(5));
  const auto images = test_images(run);
  const auto kl = represent::kl_per_dimension(*run.model, represent::encode(*run.model, images, {}));
  const auto order = kl.argsort(0, true);
  const auto code = posterior_mean(run, images.narrow(0, 2, 1));  // [1, 5]
  for (int64_t row = 0; row < 3; ++row) {
    const int64_t d = order[row].item<int64_t>();
    EXPECT_NE(r.output.find("z_" + std::to_string(d)), std::string::npos) << r.output;
    for (int64_t column = 0; column < 3; ++column) {
      auto z = code.clone();
      z[0][d] += 3.0 * (column - 1);  // -3σ, 0, +3σ of the N(0, I) prior
      expect_close(cell(png, row, column), decode_mean(run, z)[0],
                   "row " + std::to_string(row) + " column " + std::to_string(column));
    }
  }
}

TEST_F(SampleCommandTest, ManifoldDecodesThePriorsQuantiles) {
  expect_ok(run_lvm("sample " + run_dir(2) + " --manifold --steps 4 -o " + out("manifold.png")));
  const auto png = io::read_png(out("manifold.png"));
  ASSERT_EQ(png.sizes(), (std::vector<int64_t>{1, grid_side(4), grid_side(4)}));
  auto run = train::load_run(run_dir(2));
  // Standard normal quantiles at 1/8, 3/8, 5/8, 7/8; z_0 left to right, z_1 bottom to top.
  const double q[4] = {-1.1503493803760079, -0.31863936396437514, 0.31863936396437514, 1.1503493803760079};
  for (int64_t row = 0; row < 4; ++row) {
    for (int64_t column = 0; column < 4; ++column) {
      const auto z =
          torch::tensor({static_cast<float>(q[column]), static_cast<float>(q[3 - row])}).unsqueeze(0);
      expect_close(cell(png, row, column), decode_mean(run, z)[0],
                   "row " + std::to_string(row) + " column " + std::to_string(column));
    }
  }
}

TEST_F(SampleCommandTest, LatentScatterPlots) {
  const auto r2 = run_lvm("sample " + run_dir(2) + " --latents --size 200 -o " + out("latents2.png"));
  expect_ok(r2);
  const auto png = io::read_png(out("latents2.png"));
  ASSERT_EQ(png.sizes(), (std::vector<int64_t>{3, 200, 200}));
  // The tiny data set has labels 0..3: their colours appear, the other six do not.
  const auto has_colour = [&](int64_t label) {
    const auto& c = io::kPalette[static_cast<size_t>(label)];
    return torch::any((png[0] == c[0]) & (png[1] == c[1]) & (png[2] == c[2])).item<bool>();
  };
  for (int64_t label = 0; label < 10; ++label) EXPECT_EQ(has_colour(label), label < 4) << "label " << label;

  const auto r5 =
      run_lvm("sample " + run_dir(5) + " --latents --size 200 --no-axes -o " + out("latents5.png"));
  expect_ok(r5);
  EXPECT_NE(r5.output.find("principal components"), std::string::npos) << r5.output;
  EXPECT_EQ(io::read_png(out("latents5.png")).sizes(), (std::vector<int64_t>{3, 200, 200}));
}

TEST_F(SampleCommandTest, EncodeWritesTheEncodersMeansAndLogVariances) {
  // The default output: RUN_DIR/latents_test.csv.
  const auto r = run_lvm("encode " + run_dir(5) + " --split test");
  expect_ok(r);
  std::istringstream lines(testing::read_file(run_dir(5) + "/latents_test.csv"));
  std::string line;
  std::vector<std::vector<std::string>> rows;
  while (std::getline(lines, line)) {
    std::vector<std::string> cells;
    std::istringstream parts(line);
    std::string part;
    while (std::getline(parts, part, ',')) cells.push_back(part);
    rows.push_back(cells);
  }
  ASSERT_EQ(rows.size(), 41u);
  ASSERT_EQ(rows[0].size(), 12u);
  EXPECT_EQ(rows[0][0], "index");
  EXPECT_EQ(rows[0][2], "mean_0");
  EXPECT_EQ(rows[0][7], "log_var_0");
  EXPECT_EQ(rows[0][11], "log_var_4");

  auto run = train::load_run(run_dir(5));
  const auto dataset = data::load_image_dataset(run.config.data, torch::kCPU, run.config.train.seed);
  const auto x = represent::model_view(dataset.test.images, dataset.binarization);
  torch::NoGradGuard no_grad;
  const auto q = std::dynamic_pointer_cast<Normal>(run.model->proposal(x));
  ASSERT_NE(q, nullptr);
  double worst = 0;
  for (int64_t i = 0; i < 40; ++i) {
    ASSERT_EQ(rows[i + 1].size(), 12u);
    EXPECT_EQ(rows[i + 1][0], std::to_string(i));
    EXPECT_EQ(rows[i + 1][1], std::to_string(dataset.test.labels[i].item<int64_t>()));
    for (int64_t d = 0; d < 5; ++d) {
      worst = std::max(worst, std::abs(std::stod(rows[i + 1][2 + d]) - q->mean()[i][d].item<double>()));
      worst = std::max(worst, std::abs(std::stod(rows[i + 1][7 + d]) - q->log_var()[i][d].item<double>()));
    }
  }
  // Same weights and inputs; only float32 summation order may differ between processes.
  EXPECT_LT(worst, 1e-5);
}

TEST_F(SampleCommandTest, BadModeArgumentsAreUsageErrorsNamingTheArgument) {
  const auto r2 = run_dir(2), r5 = run_dir(5);
  expect_usage_error("sample " + r5 + " --manifold -o " + out("m.png"),
                     "--manifold needs a 2-D latent space; this model has latent_dim 5");
  expect_usage_error("sample " + r2 + " --interpolate 0 40",
                     "--interpolate 40: index out of range (the test split has 40 images: 0 to 39)");
  expect_usage_error("sample " + r2 + " --reconstruct --traverse",
                     "--reconstruct and --traverse: give one mode at a time");
  expect_usage_error("sample " + r2 + " --spherical", "--spherical only applies to --interpolate");
  EXPECT_FALSE(std::filesystem::exists(out("m.png")));
}

TEST_F(SampleCommandTest, UnwritableOutputMissingRunAndBadSplitAreUsageErrors) {
  const auto r2 = run_dir(2);
  expect_usage_error("sample " + r2 + " -o " + out("no/such/dir/x.png"),
                     "-o " + out("no/such/dir/x.png") + ": cannot write there (directory " +
                         out("no/such/dir") + " does not exist)");
  expect_usage_error("sample " + out("no_run"), "run directory does not exist");
  expect_usage_error("encode " + r2 + " --split tset", "--split tset: unknown split");
}

}  // namespace
}  // namespace lvm
