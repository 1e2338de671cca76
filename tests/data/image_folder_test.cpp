// data.dataset: images — a folder of PNG files, in both layouts, through the same splits and
// binarisation as MNIST; every fault an error naming the folder or the file.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "lvm/data/dataset.h"
#include "lvm/data/idx.h"
#include "lvm/data/image_folder.h"
#include "lvm/io/png.h"
#include "tests/data/load_error.h"
#include "tests/testing.h"

namespace lvm::data {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

torch::Tensor grey(int64_t n, int64_t h = 5, int64_t w = 4) {
  return torch::randint(0, 256, {n, h, w}, torch::kInt64).to(torch::kUInt8);
}

// Writes images [N, H, W] as DIR/000.png, DIR/001.png, ...
void write_folder(const std::string& dir, const torch::Tensor& images) {
  fs::create_directories(dir);
  for (int64_t i = 0; i < images.size(0); ++i) {
    io::write_png(fmt::format("{}/{:03}.png", dir, i), images[i].unsqueeze(0));
  }
}

torch::Tensor flat_unit(const torch::Tensor& u8) {
  return u8.reshape({u8.size(0), -1}).to(torch::kFloat32) / 255.0f;
}

config::DataConfig folder_config(const std::string& path) {
  config::DataConfig c;
  c.dataset = "images";
  c.path = path;
  c.validation_size = 2;
  c.binarize = "none";
  c.test_fraction = 0.25;
  return c;
}

using testing_data::load_error;

TEST(ImageFolder, ClassFoldersGiveLabelsInNameOrder) {
  torch::manual_seed(0);
  TempDir dir;
  const auto cats = grey(4), dogs = grey(3);
  write_folder(dir.file("pets/cats"), cats);
  write_folder(dir.file("pets/dogs"), dogs);
  fs::create_directories(dir.file("pets/empty"));         // no images: not a class
  testing::write_file(dir.file("pets/README.txt"), "x");  // not a PNG: ignored
  const auto folder = read_image_folder(dir.file("pets"));
  EXPECT_EQ(folder.class_names, (std::vector<std::string>{"cats", "dogs"}));
  EXPECT_TRUE(torch::equal(folder.images, torch::cat({cats, dogs})));
  EXPECT_TRUE(torch::equal(folder.labels, torch::tensor({0, 0, 0, 0, 1, 1, 1}, torch::kInt64)));
  // One layout only: files beside a class folder are ambiguous.
  write_folder(dir.file("mixed/cats"), cats);
  write_folder(dir.file("mixed"), dogs);
  EXPECT_THROW(read_image_folder(dir.file("mixed")), DataError);
}

TEST(ImageFolder, SplitsLikeMnistWithTheTestSetFromEachClass) {
  torch::manual_seed(1);
  TempDir dir;
  const auto a = grey(8), b = grey(4);
  write_folder(dir.file("train/a"), a);
  write_folder(dir.file("train/b"), b);
  // Without data.test_path: the last quarter of each class is the test set, the last
  // validation_size of what remains is validation.
  const auto data = load_image_dataset(folder_config(dir.file("train")), torch::kCPU, 0);
  EXPECT_EQ(data.height, 5);
  EXPECT_EQ(data.width, 4);
  const auto fit = torch::cat({a.narrow(0, 0, 6), b.narrow(0, 0, 3)});
  EXPECT_TRUE(torch::equal(data.train.images, flat_unit(fit).narrow(0, 0, 7)));
  EXPECT_TRUE(torch::equal(data.validation.images, flat_unit(fit).narrow(0, 7, 2)));
  EXPECT_TRUE(torch::equal(data.test.images, flat_unit(torch::cat({a.narrow(0, 6, 2), b.narrow(0, 3, 1)}))));
  EXPECT_TRUE(torch::equal(data.test.labels, torch::tensor({0, 0, 1}, torch::kInt64)));
  EXPECT_FALSE(data.binary);

  // A test folder of its own, in the one-class layout (labels 0); dynamic binarisation as MNIST.
  const auto test = grey(3);
  write_folder(dir.file("test"), test);
  auto c = folder_config(dir.file("train"));
  c.test_path = dir.file("test");
  c.binarize = "dynamic";
  const auto with_test = load_image_dataset(c, torch::kCPU, 0);
  EXPECT_TRUE(torch::equal(with_test.test.images, flat_unit(test)));
  EXPECT_TRUE(torch::equal(with_test.train.images, flat_unit(torch::cat({a, b})).narrow(0, 0, 10)));
  EXPECT_TRUE(with_test.binary);
}

TEST(ImageFolder, TheSameImagesAsIdxFilesLoadTheSame) {
  TempDir dir;
  testing::write_tiny_mnist(dir.file("idx"), 40, 10);
  write_folder(dir.file("png/train"), read_idx(dir.file("idx/train-images-idx3-ubyte")));
  write_folder(dir.file("png/test"), read_idx(dir.file("idx/t10k-images-idx3-ubyte")));
  config::DataConfig idx;
  idx.path = dir.file("idx");
  idx.validation_size = 10;
  auto png = folder_config(dir.file("png/train"));
  png.test_path = dir.file("png/test");
  png.validation_size = 10;
  png.binarize = idx.binarize;
  const auto from_idx = load_image_dataset(idx, torch::kCPU, 0);
  const auto from_png = load_image_dataset(png, torch::kCPU, 0);
  EXPECT_TRUE(torch::equal(from_png.train.images, from_idx.train.images));
  EXPECT_TRUE(torch::equal(from_png.validation.images, from_idx.validation.images));
  EXPECT_TRUE(torch::equal(from_png.test.images, from_idx.test.images));
}

TEST(ImageFolder, EveryFaultNamesTheFolderOrTheFile) {
  torch::manual_seed(2);
  TempDir dir;
  write_folder(dir.file("ok"), grey(6));
  auto error_of = [&](const std::string& folder) { return load_error(folder_config(dir.file(folder))); };
  auto expect_error = [](const std::string& error, const std::string& file, const std::string& what) {
    EXPECT_NE(error.find(file), std::string::npos) << error;
    EXPECT_NE(error.find(what), std::string::npos) << error;
  };
  expect_error(error_of("missing"), dir.file("missing"), "not a folder");
  fs::create_directories(dir.file("empty/sub"));
  expect_error(error_of("empty"), dir.file("empty"), "no PNG files");

  write_folder(dir.file("sizes"), grey(3));
  io::write_png(dir.file("sizes/100.png"), grey(1, 6, 4)[0].unsqueeze(0));
  expect_error(error_of("sizes"), dir.file("sizes/100.png"), "4x6 but");

  write_folder(dir.file("colour"), grey(3));
  io::write_png(dir.file("colour/100.png"), grey(3)[0].unsqueeze(0).expand({3, 5, 4}).contiguous());
  expect_error(error_of("colour"), dir.file("colour/100.png"), "a colour image (3 channels)");

  write_folder(dir.file("alpha"), grey(3));
  auto translucent = torch::stack({grey(1)[0], torch::full({5, 4}, 128, torch::kUInt8)});
  io::write_png(dir.file("alpha/100.png"), translucent);
  expect_error(error_of("alpha"), dir.file("alpha/100.png"), "transparent");
  auto opaque = torch::stack({grey(1)[0], torch::full({5, 4}, 255, torch::kUInt8)});
  io::write_png(dir.file("alpha/100.png"), opaque);
  EXPECT_EQ(error_of("alpha"), "(no error)");

  write_folder(dir.file("broken"), grey(3));
  testing::write_file(dir.file("broken/001.png"),
                      testing::read_file(dir.file("broken/001.png")).substr(0, 30));
  expect_error(error_of("broken"), dir.file("broken/001.png"), "");

  auto c = folder_config(dir.file("ok"));
  c.labels = dir.file("labels.npy");
  expect_error(load_error(c), "data.labels", "class folders");
  c = folder_config(dir.file("ok"));
  c.test_fraction = 0.01;
  expect_error(load_error(c), dir.file("ok"), "leaves 0 test images");
}

}  // namespace
}  // namespace lvm::data
