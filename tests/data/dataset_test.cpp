#include "lvm/data/dataset.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "lvm/data/idx.h"
#include "tests/testing.h"

namespace lvm::data {
namespace {

using lvm::testing::TempDir;

constexpr int64_t kTrain = 50, kTest = 20, kSide = 4;

// A small MNIST-style directory: grey uint8 images [N, 4, 4] and labels i % 10.
struct FakeMnist {
  TempDir dir;
  torch::Tensor train_images, train_labels, test_images, test_labels;

  FakeMnist() {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(99);
    train_images = torch::randint(0, 256, {kTrain, kSide, kSide}, gen, torch::kInt64).to(torch::kUInt8);
    test_images = torch::randint(0, 256, {kTest, kSide, kSide}, gen, torch::kInt64).to(torch::kUInt8);
    train_labels = (torch::arange(kTrain) % 10).to(torch::kUInt8);
    test_labels = (torch::arange(kTest) % 10).to(torch::kUInt8);
    write_all();
  }
  void write_all() {
    write_idx(dir.file("train-images-idx3-ubyte"), train_images);
    write_idx(dir.file("train-labels-idx1-ubyte"), train_labels);
    write_idx(dir.file("t10k-images-idx3-ubyte"), test_images);
    write_idx(dir.file("t10k-labels-idx1-ubyte"), test_labels);
  }
  config::DataConfig config(const std::string& binarize = "none", int64_t validation = 10) const {
    config::DataConfig c;
    c.path = dir.path();
    c.binarize = binarize;
    c.validation_size = validation;
    return c;
  }
};

torch::Tensor flat_unit(const torch::Tensor& images_u8) {
  return images_u8.reshape({images_u8.size(0), -1}).to(torch::kFloat32) / 255.0f;
}

bool is_binary(const torch::Tensor& t) { return ((t == 0) | (t == 1)).all().item<bool>(); }

// Expects load_image_dataset to throw a DataError mentioning every string in `parts`.
void expect_load_error(const config::DataConfig& c, const std::vector<std::string>& parts) {
  try {
    load_image_dataset(c, torch::kCPU, 0);
    ADD_FAILURE() << "load_image_dataset did not throw";
  } catch (const DataError& e) {
    for (const auto& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "expected '" << part << "' in: " << e.what();
  }
}

// --- loading -------------------------------------------------------------------------------------

TEST(Dataset, ShapesScalingAndValidationCarve) {
  FakeMnist m;
  const ImageDataset d = load_image_dataset(m.config("none", 10), torch::kCPU, 0);
  EXPECT_EQ(d.height, kSide);
  EXPECT_EQ(d.width, kSide);
  EXPECT_EQ(d.dim(), kSide * kSide);
  EXPECT_EQ(d.binarization, Binarization::kNone);
  EXPECT_FALSE(d.binary);

  EXPECT_EQ(d.train.size(), kTrain - 10);
  EXPECT_EQ(d.validation.size(), 10);
  EXPECT_EQ(d.test.size(), kTest);
  EXPECT_EQ(d.train.images.sizes(), (std::vector<int64_t>{kTrain - 10, kSide * kSide}));
  EXPECT_EQ(d.train.images.scalar_type(), torch::kFloat32);
  EXPECT_EQ(d.train.labels.scalar_type(), torch::kInt64);
  EXPECT_EQ(d.train.labels.sizes(), (std::vector<int64_t>{kTrain - 10}));
  EXPECT_GE(d.train.images.min().item<float>(), 0.0f);
  EXPECT_LE(d.train.images.max().item<float>(), 1.0f);

  const torch::Tensor all_train = flat_unit(m.train_images);
  EXPECT_TRUE(torch::allclose(d.train.images, all_train.narrow(0, 0, kTrain - 10)));
  EXPECT_TRUE(torch::allclose(d.validation.images, all_train.narrow(0, kTrain - 10, 10)));
  EXPECT_TRUE(torch::allclose(d.test.images, flat_unit(m.test_images)));
  EXPECT_TRUE(torch::equal(d.validation.labels, m.train_labels.narrow(0, kTrain - 10, 10).to(torch::kInt64)));
  EXPECT_TRUE(torch::equal(d.test.labels, m.test_labels.to(torch::kInt64)));
  // 255 maps to exactly 1 and 0 to 0.
  EXPECT_FLOAT_EQ(flat_unit(torch::full({1, 1, 1}, 255, torch::kUInt8)).item<float>(), 1.0f);
}

TEST(Dataset, ZeroValidationKeepsEveryTrainingImage) {
  FakeMnist m;
  const ImageDataset d = load_image_dataset(m.config("none", 0), torch::kCPU, 0);
  EXPECT_EQ(d.train.size(), kTrain);
  EXPECT_EQ(d.validation.size(), 0);
}

TEST(Dataset, GzipFilesAreFoundBySuffix) {
  FakeMnist m;
  std::filesystem::remove(m.dir.file("train-images-idx3-ubyte"));
  std::filesystem::remove(m.dir.file("t10k-labels-idx1-ubyte"));
  write_idx(m.dir.file("train-images-idx3-ubyte.gz"), m.train_images, /*gzip=*/true);
  write_idx(m.dir.file("t10k-labels-idx1-ubyte.gz"), m.test_labels, /*gzip=*/true);
  const ImageDataset d = load_image_dataset(m.config(), torch::kCPU, 0);
  EXPECT_TRUE(torch::allclose(d.train.images, flat_unit(m.train_images).narrow(0, 0, kTrain - 10)));
  EXPECT_TRUE(torch::equal(d.test.labels, m.test_labels.to(torch::kInt64)));
}

TEST(Dataset, LimitsApplyAfterTheValidationCarve) {
  FakeMnist m;
  config::DataConfig c = m.config("none", 10);
  c.train_limit = 15;
  c.test_limit = 5;
  const ImageDataset d = load_image_dataset(c, torch::kCPU, 0);
  EXPECT_EQ(d.train.size(), 15);
  EXPECT_EQ(d.validation.size(), 10);
  EXPECT_EQ(d.test.size(), 5);
  const torch::Tensor all_train = flat_unit(m.train_images);
  EXPECT_TRUE(torch::allclose(d.train.images, all_train.narrow(0, 0, 15)));
  EXPECT_TRUE(torch::allclose(d.validation.images, all_train.narrow(0, kTrain - 10, 10)));
  EXPECT_TRUE(torch::allclose(d.test.images, flat_unit(m.test_images).narrow(0, 0, 5)));

  // Limits above what is there mean "all"; the carve never overlaps training images.
  c.train_limit = 1000;
  c.test_limit = 1000;
  const ImageDataset all = load_image_dataset(c, torch::kCPU, 0);
  EXPECT_EQ(all.train.size(), kTrain - 10);
  EXPECT_EQ(all.test.size(), kTest);
}

TEST(Dataset, BlackAndWhiteFilesAreBinaryWithoutBinarisation) {
  FakeMnist m;
  m.train_images = ((m.train_images > 127).to(torch::kUInt8) * 255).to(torch::kUInt8);
  m.test_images = ((m.test_images > 127).to(torch::kUInt8) * 255).to(torch::kUInt8);
  m.write_all();
  const ImageDataset d = load_image_dataset(m.config("none"), torch::kCPU, 0);
  EXPECT_TRUE(d.binary);
  EXPECT_TRUE(is_binary(d.train.images));
}

// --- errors --------------------------------------------------------------------------------------

TEST(DatasetErrors, CountMismatchNamesBothFiles) {
  FakeMnist m;
  write_idx(m.dir.file("train-labels-idx1-ubyte"), m.train_labels.narrow(0, 0, 49).contiguous());
  expect_load_error(m.config(), {m.dir.file("train-images-idx3-ubyte"), m.dir.file("train-labels-idx1-ubyte"),
                                 "50 images", "49 labels"});
}

TEST(DatasetErrors, MissingFileSuggestsTheDownloadScript) {
  FakeMnist m;
  std::filesystem::remove(m.dir.file("t10k-labels-idx1-ubyte"));
  expect_load_error(m.config(),
                    {m.dir.path(), "missing t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz)",
                     "scripts/get_mnist.sh " + m.dir.path()});
  config::DataConfig c = m.config();
  c.path = m.dir.file("nowhere");
  expect_load_error(c, {c.path, "does not exist", "scripts/get_mnist.sh " + c.path});
}

TEST(DatasetErrors, LabelOutOfRange) {
  FakeMnist m;
  m.test_labels[7] = 10;
  m.write_all();
  expect_load_error(m.config(), {m.dir.file("t10k-labels-idx1-ubyte"), "label 10 at index 7", "0..9"});
}

TEST(DatasetErrors, WrongShapesAndTypes) {
  FakeMnist m;
  write_idx(m.dir.file("train-images-idx3-ubyte"), m.train_images.reshape({kTrain, kSide * kSide}));
  expect_load_error(m.config(), {m.dir.file("train-images-idx3-ubyte"),
                                 "expected uint8 images [N, H, W], got uint8 [50, 16]"});
  m.write_all();
  write_idx(m.dir.file("t10k-labels-idx1-ubyte"), m.test_labels.to(torch::kInt32));
  expect_load_error(m.config(),
                    {m.dir.file("t10k-labels-idx1-ubyte"), "expected uint8 labels [N], got int32 [20]"});
  m.write_all();
  write_idx(m.dir.file("t10k-images-idx3-ubyte"), torch::zeros({kTest, 5, 5}, torch::kUInt8));
  expect_load_error(m.config(), {m.dir.file("t10k-images-idx3-ubyte"), "5x5", "4x4"});
}

TEST(DatasetErrors, ValidationMustLeaveTrainingImages) {
  FakeMnist m;
  expect_load_error(m.config("none", kTrain), {"validation_size 50", "has 50 images"});
  expect_load_error(m.config("none", -1), {"validation_size -1"});
}

TEST(DatasetErrors, CorruptFileErrorComesThrough) {
  FakeMnist m;
  lvm::testing::write_file(m.dir.file("train-labels-idx1-ubyte"), "not an idx file");
  expect_load_error(m.config(), {m.dir.file("train-labels-idx1-ubyte"), "bad magic"});
}

// --- binarisation --------------------------------------------------------------------------------

TEST(Binarisation, ParseNames) {
  EXPECT_EQ(parse_binarization("none"), Binarization::kNone);
  EXPECT_EQ(parse_binarization("static"), Binarization::kStatic);
  EXPECT_EQ(parse_binarization("dynamic"), Binarization::kDynamic);
  EXPECT_THROW(parse_binarization("Dynamic"), DataError);
  EXPECT_THROW(parse_binarization(""), DataError);
}

TEST(Binarisation, StaticIsBinaryAndDeterministicBySeed) {
  FakeMnist m;
  const ImageDataset a = load_image_dataset(m.config("static"), torch::kCPU, 7);
  const ImageDataset b = load_image_dataset(m.config("static"), torch::kCPU, 7);
  const ImageDataset c = load_image_dataset(m.config("static"), torch::kCPU, 8);
  EXPECT_TRUE(a.binary);
  EXPECT_EQ(a.binarization, Binarization::kStatic);
  for (const Split* s : {&a.train, &a.validation, &a.test}) {
    EXPECT_TRUE(is_binary(s->images));
    EXPECT_EQ(s->images.scalar_type(), torch::kFloat32);
  }
  EXPECT_TRUE(torch::equal(a.train.images, b.train.images));
  EXPECT_TRUE(torch::equal(a.test.images, b.test.images));
  EXPECT_FALSE(torch::equal(a.train.images, c.train.images));
  // Black stays black, white stays white.
  const torch::Tensor grey = flat_unit(m.train_images).narrow(0, 0, kTrain - 10);
  EXPECT_TRUE((a.train.images.masked_select(grey == 0) == 0).all().item<bool>());
  EXPECT_TRUE((a.train.images.masked_select(grey == 1) == 1).all().item<bool>());

  // An image's draw does not depend on the limits.
  config::DataConfig limited = m.config("static");
  limited.train_limit = 5;
  limited.test_limit = 3;
  const ImageDataset l = load_image_dataset(limited, torch::kCPU, 7);
  EXPECT_TRUE(torch::equal(l.train.images, a.train.images.narrow(0, 0, 5)));
  EXPECT_TRUE(torch::equal(l.test.images, a.test.images.narrow(0, 0, 3)));
}

TEST(Binarisation, DynamicLeavesGreyForPrepareBatch) {
  FakeMnist m;
  const ImageDataset d = load_image_dataset(m.config("dynamic"), torch::kCPU, 0);
  EXPECT_TRUE(d.binary);
  EXPECT_TRUE(torch::allclose(d.train.images, flat_unit(m.train_images).narrow(0, 0, kTrain - 10)));
  const torch::Tensor batch = prepare_batch(d.train.images, d.binarization);
  EXPECT_TRUE(is_binary(batch));
}

TEST(Binarisation, PrepareBatchDynamicHasTheRightMean) {
  const torch::Tensor grey = torch::full({200, 500}, 0.3f);
  const torch::Tensor b = prepare_batch(grey, Binarization::kDynamic);
  EXPECT_EQ(b.sizes(), grey.sizes());
  EXPECT_EQ(b.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(is_binary(b));
  // 100000 draws: standard error 0.0014.
  EXPECT_NEAR(b.mean().item<double>(), 0.3, 0.01);
  EXPECT_FALSE(torch::equal(b, prepare_batch(grey, Binarization::kDynamic))) << "fresh draw each time";
}

TEST(Binarisation, PrepareBatchWithGeneratorIsReproducible) {
  const torch::Tensor grey = torch::rand({30, 16});
  at::Generator g1 = at::make_generator<at::CPUGeneratorImpl>(5);
  at::Generator g2 = at::make_generator<at::CPUGeneratorImpl>(5);
  const torch::Tensor a = prepare_batch(grey, Binarization::kDynamic, g1);
  EXPECT_TRUE(torch::equal(a, prepare_batch(grey, Binarization::kDynamic, g2)));
  EXPECT_FALSE(torch::equal(a, prepare_batch(grey, Binarization::kDynamic, g1))) << "generator advances";
}

TEST(Binarisation, PrepareBatchLeavesNoneAndStaticAlone) {
  const torch::Tensor grey = torch::rand({4, 16});
  EXPECT_TRUE(prepare_batch(grey, Binarization::kNone).is_same(grey));
  EXPECT_TRUE(prepare_batch(grey, Binarization::kStatic).is_same(grey));
}

TEST(Binarisation, FixedBinarisationIsDeterministic) {
  const torch::Tensor grey = torch::rand({40, 16});
  const torch::Tensor a = fixed_binarization(grey, Binarization::kDynamic, 11);
  EXPECT_TRUE(is_binary(a));
  EXPECT_EQ(a.sizes(), grey.sizes());
  EXPECT_EQ(a.device(), grey.device());
  EXPECT_TRUE(torch::equal(a, fixed_binarization(grey, Binarization::kDynamic, 11)));
  EXPECT_FALSE(torch::equal(a, fixed_binarization(grey, Binarization::kDynamic, 12)));
  EXPECT_TRUE(fixed_binarization(grey, Binarization::kNone, 11).is_same(grey));
  EXPECT_TRUE(fixed_binarization(grey, Binarization::kStatic, 11).is_same(grey));
}

TEST(Binarisation, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Tensor grey = torch::rand({40, 16});
  EXPECT_TRUE(torch::equal(fixed_binarization(grey.to(torch::kCUDA), Binarization::kDynamic, 3).cpu(),
                           fixed_binarization(grey, Binarization::kDynamic, 3)));
  at::Generator g1 = at::make_generator<at::CPUGeneratorImpl>(5);
  at::Generator g2 = at::make_generator<at::CPUGeneratorImpl>(5);
  const torch::Tensor on_cuda = prepare_batch(grey.to(torch::kCUDA), Binarization::kDynamic, g1);
  EXPECT_TRUE(on_cuda.is_cuda());
  EXPECT_TRUE(torch::equal(on_cuda.cpu(), prepare_batch(grey, Binarization::kDynamic, g2)));
  FakeMnist m;
  const ImageDataset cpu = load_image_dataset(m.config("static"), torch::kCPU, 7);
  const ImageDataset gpu = load_image_dataset(m.config("static"), torch::kCUDA, 7);
  EXPECT_TRUE(gpu.train.images.is_cuda());
  EXPECT_TRUE(torch::equal(gpu.train.images.cpu(), cpu.train.images));
}

// --- epoch batches -------------------------------------------------------------------------------

torch::Tensor concat(const std::vector<torch::Tensor>& batches) { return torch::cat(batches); }

TEST(EpochBatches, PermutationInBatchesWithSmallerLastBatch) {
  const auto batches = epoch_batches(103, 10, /*seed=*/1, /*epoch=*/0, /*shuffle=*/true, torch::kCPU);
  ASSERT_EQ(batches.size(), 11u);
  for (size_t i = 0; i + 1 < batches.size(); ++i) EXPECT_EQ(batches[i].size(0), 10);
  EXPECT_EQ(batches.back().size(0), 3);
  const torch::Tensor all = concat(batches);
  EXPECT_EQ(all.scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(std::get<0>(all.sort()), torch::arange(103)));  // each index exactly once
  EXPECT_FALSE(torch::equal(all, torch::arange(103))) << "shuffled";
}

TEST(EpochBatches, OrderDependsOnlyOnSeedAndEpoch) {
  const torch::Tensor a = concat(epoch_batches(500, 64, 3, 4, true, torch::kCPU));
  EXPECT_TRUE(torch::equal(a, concat(epoch_batches(500, 64, 3, 4, true, torch::kCPU))));
  EXPECT_TRUE(torch::equal(a, concat(epoch_batches(500, 7, 3, 4, true, torch::kCPU))))
      << "batch size does not change the order";
  EXPECT_FALSE(torch::equal(a, concat(epoch_batches(500, 64, 3, 5, true, torch::kCPU))));
  EXPECT_FALSE(torch::equal(a, concat(epoch_batches(500, 64, 4, 4, true, torch::kCPU))));
  // Huge seeds wrap instead of overflowing.
  const torch::Tensor big = concat(epoch_batches(50, 8, INT64_MAX, 9, true, torch::kCPU));
  EXPECT_TRUE(torch::equal(std::get<0>(big.sort()), torch::arange(50)));
}

TEST(EpochBatches, NoShuffleIsInOrder) {
  const auto batches = epoch_batches(25, 10, 1, 0, /*shuffle=*/false, torch::kCPU);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_TRUE(torch::equal(batches[2], torch::arange(20, 25)));
  EXPECT_TRUE(torch::equal(concat(batches), torch::arange(25)));
}

TEST(EpochBatches, EdgeCases) {
  EXPECT_TRUE(epoch_batches(0, 10, 1, 0, true, torch::kCPU).empty());
  const auto one = epoch_batches(5, 100, 1, 0, true, torch::kCPU);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].size(0), 5);
  EXPECT_THROW(epoch_batches(5, 0, 1, 0, true, torch::kCPU), std::invalid_argument);
  EXPECT_THROW(epoch_batches(-1, 4, 1, 0, true, torch::kCPU), std::invalid_argument);
}

}  // namespace
}  // namespace lvm::data
