// Vector data for the Gaussian mixture: splits, seeds, PCA and the errors of each source.

#include "lvm/data/vector_dataset.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "lvm/data/csv.h"
#include "lvm/data/idx.h"
#include "lvm/data/synthetic.h"
#include "tests/testing.h"

namespace lvm::data {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

TEST(VectorDataset, SyntheticSplitsAreIndependentDraws) {
  config::DataConfig c;
  c.dataset = "synthetic";
  c.synthetic = "circles";
  c.n_train = 300;
  c.n_test = 100;
  const auto a = load_vector_dataset(c, torch::kCPU, 5);
  EXPECT_EQ(a.train.sizes(), (std::vector<int64_t>{300, 2}));
  EXPECT_EQ(a.test.sizes(), (std::vector<int64_t>{100, 2}));
  EXPECT_TRUE(torch::equal(a.train, make_synthetic("circles", 300, 0.1, 10)));
  // More training points leave the test points as they were.
  c.n_train = 400;
  EXPECT_TRUE(torch::equal(load_vector_dataset(c, torch::kCPU, 5).test, a.test));
}

TEST(VectorDataset, CsvSplitsByFractionOrTakesATestFile) {
  testing::TempDir dir;
  const auto rows = torch::arange(20, kDouble).reshape({10, 2});
  write_csv(dir.file("all.csv"), rows);
  config::DataConfig c;
  c.dataset = "csv";
  c.path = dir.file("all.csv");
  c.test_fraction = 0.3;
  const auto split = load_vector_dataset(c, torch::kCPU, 1);
  EXPECT_EQ(split.train.size(0), 7);
  EXPECT_EQ(split.test.size(0), 3);
  // Together they are the file's rows, each once.
  const auto together = std::get<0>(torch::cat({split.train, split.test}).select(1, 0).sort());
  EXPECT_TRUE(torch::equal(together, rows.select(1, 0)));

  write_csv(dir.file("test.csv"), torch::ones({4, 2}, kDouble));
  c.test_path = dir.file("test.csv");
  const auto files = load_vector_dataset(c, torch::kCPU, 1);
  EXPECT_TRUE(torch::equal(files.train, rows));
  EXPECT_EQ(files.test.size(0), 4);

  write_csv(dir.file("wide.csv"), torch::ones({4, 3}, kDouble));
  c.test_path = dir.file("wide.csv");
  try {
    load_vector_dataset(c, torch::kCPU, 1);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("wide.csv has 3 columns but data.path"), std::string::npos)
        << e.what();
  }
}

TEST(VectorDataset, PcaIsFittedOnTrainAndAppliedToBoth) {
  testing::TempDir dir;
  torch::manual_seed(3);
  write_csv(dir.file("train.csv"), torch::randn({40, 5}, kDouble));
  write_csv(dir.file("test.csv"), torch::randn({10, 5}, kDouble));
  config::DataConfig c;
  c.dataset = "csv";
  c.path = dir.file("train.csv");
  c.test_path = dir.file("test.csv");
  c.pca_dim = 2;
  const auto data = load_vector_dataset(c, torch::kCPU, 0);
  ASSERT_TRUE(data.pca.has_value());
  EXPECT_EQ(data.dim(), 2);
  EXPECT_TRUE(torch::allclose(data.test, data.pca->project(read_csv(dir.file("test.csv")))));
  c.pca_dim = 6;
  try {
    load_vector_dataset(c, torch::kCPU, 0);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "data.pca_dim: 6 exceeds the data's 5 dimensions");
  }
}

TEST(VectorDataset, ImagesAreFlattenedPixels) {
  testing::TempDir dir;
  testing::write_tiny_mnist(dir.path(), 60, 20);
  config::DataConfig c;
  c.path = dir.path();
  c.binarize = "none";
  c.validation_size = 10;
  const auto data = load_vector_dataset(c, torch::kCPU, 0);
  EXPECT_EQ(data.train.sizes(), (std::vector<int64_t>{50, 64}));
  EXPECT_EQ(data.test.sizes(), (std::vector<int64_t>{20, 64}));
  EXPECT_EQ(data.train.scalar_type(), torch::kDouble);
  EXPECT_GE(data.train.min().item<double>(), 0.0);
  EXPECT_LE(data.train.max().item<double>(), 1.0);
}

}  // namespace
}  // namespace lvm::data
