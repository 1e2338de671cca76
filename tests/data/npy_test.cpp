// The .npy reader and writer against files NumPy wrote (tests/fuzz/corpus/npy, numpy.save), and
// data.dataset: npy through the same splits and binarisation as MNIST.
#include "lvm/data/npy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "lvm/data/dataset.h"
#include "lvm/data/idx.h"
#include "lvm/train/trainer.h"
#include "tests/data/load_error.h"
#include "tests/testing.h"

namespace lvm::data {
namespace {

using lvm::testing::TempDir;

std::string numpy_file(const std::string& name) {
  return std::string(LVM_SOURCE_DIR) + "/tests/fuzz/corpus/npy/" + name;
}

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string read_error(const std::string& path) {
  try {
    read_npy(path);
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Npy, ReadsWhatNumpyWroteAndWritesItBackByteForByte) {
  // Values NumPy saved: arange gives known contents.
  const auto labels = read_npy(numpy_file("accept-int64-labels"));
  EXPECT_EQ(labels.scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(labels, torch::arange(5, torch::kInt64)));
  const auto grid = read_npy(numpy_file("accept-int32-2d"));
  EXPECT_TRUE(torch::equal(grid, torch::arange(6, torch::kInt32).reshape({2, 3})));
  EXPECT_EQ(read_npy(numpy_file("accept-int8-scalar")).dim(), 0);
  EXPECT_EQ(read_npy(numpy_file("accept-int8-scalar")).item<int64_t>(), 7);
  EXPECT_EQ(read_npy(numpy_file("accept-empty")).sizes(), (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(torch::equal(read_npy(numpy_file("accept-version2")), torch::ones({2, 2}, torch::kUInt8)));

  // write_npy writes NumPy's own bytes (header layout, padding to 64, data).
  TempDir dir;
  for (const char* name :
       {"accept-uint8-images", "accept-float32-images", "accept-float64-1d", "accept-int64-labels",
        "accept-int32-2d", "accept-int16-4d", "accept-int8-scalar", "accept-empty"}) {
    write_npy(dir.file("copy.npy"), read_npy(numpy_file(name)));
    EXPECT_EQ(bytes_of(dir.file("copy.npy")), bytes_of(numpy_file(name))) << name;
  }
}

TEST(Npy, EveryFaultIsAnErrorNamingTheFile) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"reject-truncated-data", "truncated: the header promises 16 bytes of data, the file has 13"},
      {"reject-trailing-bytes", "trailing bytes after the 16 bytes of data"},
      {"reject-bad-magic", "not a .npy file"},
      {"reject-truncated-header", "truncated: the header promises"},
      {"reject-fortran-order", "Fortran (column-major) order"},
      {"reject-big-endian", "unsupported dtype '>f4'"},
      {"reject-complex", "unsupported dtype '<c8'"},
      {"reject-structured", "bad .npy header"},
      {"reject-bad-shape", "expected a non-negative integer in the shape"},
  };
  for (const auto& [name, fault] : cases) {
    const std::string message = read_error(numpy_file(name));
    EXPECT_EQ(message.rfind(numpy_file(name) + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(fault), std::string::npos) << name << ": " << message;
  }
  TempDir dir;
  EXPECT_NE(read_error(dir.file("missing.npy")).find("cannot open"), std::string::npos);
  EXPECT_NE(read_error(dir.path()).find("is a directory"), std::string::npos);
}

TEST(Npy, AShortFileWhoseHeaderPromisesGigabytesIsRefusedBeforeAllocating) {
  // 60 GiB of float32 promised, none present: more than this machine could allocate, so reading
  // the length from the file (not allocating first) is what turns it into a DataError.
  TempDir dir;
  const std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (15, 1073741824), }";
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  std::string padded = header + std::string(63 - (10 + header.size()) % 64, ' ') + "\n";
  bytes += static_cast<char>(padded.size() & 0xFF);
  bytes += static_cast<char>(padded.size() >> 8);
  bytes += padded + "abc";
  std::ofstream(dir.file("short.npy"), std::ios::binary) << bytes;
  const std::string message = read_error(dir.file("short.npy"));
  EXPECT_NE(message.find("truncated: the header promises 64424509440 bytes of data, the file has 3"),
            std::string::npos)
      << message;
}

struct NpyImages {
  TempDir dir;
  torch::Tensor train = torch::randint(0, 256, {30, 5, 4}, torch::kInt64).to(torch::kUInt8);
  torch::Tensor test = torch::randint(0, 256, {8, 5, 4}, torch::kInt64).to(torch::kUInt8);
  torch::Tensor train_labels = torch::arange(30, torch::kInt64) % 7;

  NpyImages() {
    write_npy(dir.file("train.npy"), train);
    write_npy(dir.file("test.npy"), test.unsqueeze(1));  // [N, 1, H, W] reads as [N, H, W]
    write_npy(dir.file("train_labels.npy"), train_labels.to(torch::kInt32));
  }
  config::DataConfig config() const {
    config::DataConfig c;
    c.dataset = "npy";
    c.path = dir.file("train.npy");
    c.labels = dir.file("train_labels.npy");
    c.test_path = dir.file("test.npy");
    c.validation_size = 5;
    c.binarize = "none";
    return c;
  }
};

torch::Tensor flat_unit(const torch::Tensor& u8) {
  return u8.reshape({u8.size(0), -1}).to(torch::kFloat32) / 255.0f;
}

TEST(NpyDataset, SplitsLikeMnistWithItsLabels) {
  torch::manual_seed(0);
  NpyImages files;
  const auto data = load_image_dataset(files.config(), torch::kCPU, 0);
  EXPECT_EQ(data.height, 5);
  EXPECT_EQ(data.width, 4);
  EXPECT_TRUE(torch::equal(data.train.images, flat_unit(files.train).narrow(0, 0, 25)));
  EXPECT_TRUE(torch::equal(data.validation.images, flat_unit(files.train).narrow(0, 25, 5)));
  EXPECT_TRUE(torch::equal(data.train.labels, files.train_labels.narrow(0, 0, 25)));
  EXPECT_TRUE(torch::equal(data.test.images, flat_unit(files.test)));
  EXPECT_TRUE(torch::equal(data.test.labels, torch::zeros({8}, torch::kInt64)));  // no test labels
  EXPECT_FALSE(data.binary);

  // Float images in [0, 1] are the grey levels themselves; static binarisation draws from them.
  auto c = files.config();
  write_npy(files.dir.file("float.npy"), flat_unit(files.train).reshape({30, 5, 4}));
  c.path = files.dir.file("float.npy");
  EXPECT_TRUE(torch::equal(load_image_dataset(c, torch::kCPU, 0).train.images, data.train.images));
  c.binarize = "static";
  const auto binary = load_image_dataset(c, torch::kCPU, 0);
  EXPECT_TRUE(binary.binary);
  EXPECT_TRUE(((binary.train.images == 0) | (binary.train.images == 1)).all().item<bool>());

  // Without data.test_path the last test_fraction of the images is the test set.
  c = files.config();
  c.test_path = "";
  c.test_fraction = 0.2;
  const auto tail = load_image_dataset(c, torch::kCPU, 0);
  EXPECT_TRUE(torch::equal(tail.test.images, flat_unit(files.train).narrow(0, 24, 6)));
  EXPECT_TRUE(torch::equal(tail.test.labels, files.train_labels.narrow(0, 24, 6)));
  EXPECT_TRUE(torch::equal(tail.validation.images, flat_unit(files.train).narrow(0, 19, 5)));
}

using testing_data::load_error;

TEST(NpyDataset, RefusesWhatIsNotAGreyImageSetWithTheFileNamed) {
  NpyImages files;
  const auto with = [&](const std::string& name, const torch::Tensor& array) {
    write_npy(files.dir.file(name), array);
    auto c = files.config();
    c.path = files.dir.file(name);
    return load_error(c);
  };
  const std::string rgb = with("rgb.npy", torch::zeros({3, 5, 4, 3}, torch::kUInt8));
  EXPECT_NE(rgb.find("rgb.npy: expected grey images [N, H, W]"), std::string::npos) << rgb;
  EXPECT_NE(rgb.find("colour images are not read yet"), std::string::npos) << rgb;
  const std::string flat = with("flat.npy", torch::zeros({3, 20}, torch::kUInt8));
  EXPECT_NE(flat.find("got uint8 [3, 20]"), std::string::npos) << flat;
  auto grey = torch::full({30, 5, 4}, 0.5f);
  grey[7][1][2] = 1.5f;
  const std::string range = with("range.npy", grey);
  EXPECT_NE(range.find("range.npy: value 1.500000 of image 7 is outside [0, 1]"), std::string::npos) << range;
  const std::string ints = with("ints.npy", torch::zeros({3, 5, 4}, torch::kInt32));
  EXPECT_NE(ints.find("expected uint8 grey levels or float32"), std::string::npos) << ints;
  const std::string size = with("small.npy", torch::zeros({30, 4, 4}, torch::kUInt8));
  EXPECT_NE(size.find("test.npy: images are 5x4 but"), std::string::npos) << size;

  auto c = files.config();
  write_npy(files.dir.file("few_labels.npy"), torch::zeros({29}, torch::kInt64));
  c.labels = files.dir.file("few_labels.npy");
  EXPECT_NE(load_error(c).find("has 30 images but " + c.labels + " has 29 labels"), std::string::npos);
  write_npy(files.dir.file("negative.npy"), -torch::ones({30}, torch::kInt64));
  c.labels = files.dir.file("negative.npy");
  EXPECT_NE(load_error(c).find("label -1 at index 0 is negative"), std::string::npos);
  c = files.config();
  c.test_path = "";
  c.test_labels = files.dir.file("train_labels.npy");
  EXPECT_NE(load_error(c).find("data.test_labels without data.test_path"), std::string::npos);
  c.test_labels = "";
  c.test_fraction = 0.01;
  EXPECT_NE(load_error(c).find("leaves 0 test images"), std::string::npos);
}

// The same images as IDX files and as .npy arrays train the same VAE, to the last digit.
TEST(NpyDataset, TrainsTheSameModelAsTheSameImagesInIdxFiles) {
  TempDir dir;
  testing::write_tiny_mnist(dir.file("idx"), 300, 60);
  write_npy(dir.file("train.npy"), read_idx(dir.file("idx/train-images-idx3-ubyte")));
  write_npy(dir.file("train_labels.npy"), read_idx(dir.file("idx/train-labels-idx1-ubyte")));
  write_npy(dir.file("test.npy"), read_idx(dir.file("idx/t10k-images-idx3-ubyte")));
  write_npy(dir.file("test_labels.npy"), read_idx(dir.file("idx/t10k-labels-idx1-ubyte")));
  const auto idx = testing::tiny_vae_config(dir.file("idx"), 2);
  auto npy = idx;
  npy.data.dataset = "npy";
  npy.data.path = dir.file("train.npy");
  npy.data.labels = dir.file("train_labels.npy");
  npy.data.test_path = dir.file("test.npy");
  npy.data.test_labels = dir.file("test_labels.npy");
  std::ostringstream log;
  const auto from_idx = train::train(train::TrainRequest{idx, dir.file("run_idx"), false, false, &log});
  const auto from_npy = train::train(train::TrainRequest{npy, dir.file("run_npy"), false, false, &log});
  EXPECT_EQ(from_npy.val_elbo, from_idx.val_elbo);
  EXPECT_EQ(from_npy.test_elbo, from_idx.test_elbo);
  const auto data = load_image_dataset(npy.data, torch::kCPU, 0);
  EXPECT_TRUE(torch::equal(data.test.labels, load_image_dataset(idx.data, torch::kCPU, 0).test.labels));
}

}  // namespace
}  // namespace lvm::data
