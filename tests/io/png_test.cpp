// PNG files: what the project writes decodes again through libpng to the very pixels written,
// the header says what it should (checked on the raw bytes, independently of libpng), and bad
// input is refused with the file named.

#include "lvm/io/png.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "lvm/util/files.h"
#include "tests/testing.h"

namespace lvm::io {
namespace {

using lvm::testing::read_file;
using lvm::testing::TempDir;

uint32_t be32_at(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

torch::Tensor random_image(int64_t channels, int64_t height, int64_t width, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randint(0, 256, {channels, height, width}, generator, torch::kUInt8);
}

// Signature, then IHDR: width, height, bit depth, colour type (0 grey, 2 RGB, 4 grey+alpha, 6 RGBA).
void expect_header(const std::string& bytes, uint32_t width, uint32_t height, int colour_type) {
  ASSERT_GT(bytes.size(), 33u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(bytes.substr(12, 4), "IHDR");
  EXPECT_EQ(be32_at(bytes, 16), width);
  EXPECT_EQ(be32_at(bytes, 20), height);
  EXPECT_EQ(static_cast<int>(bytes[24]), 8) << "bit depth";
  EXPECT_EQ(static_cast<int>(bytes[25]), colour_type) << "colour type";
}

TEST(Png, GreyRoundTripIsExact) {
  TempDir dir;
  const auto image = random_image(1, 13, 17, 1);
  write_png(dir.file("grey.png"), image);
  expect_header(read_file(dir.file("grey.png")), 17, 13, 0);
  const auto back = read_png(dir.file("grey.png"));
  ASSERT_EQ(back.sizes(), image.sizes());
  EXPECT_TRUE(torch::equal(back, image));
}

TEST(Png, ColourAndAlphaRoundTripsAreExact) {
  TempDir dir;
  const int colour_types[] = {0, 4, 2, 6};
  for (int64_t channels : {2, 3, 4}) {
    const auto image = random_image(channels, 9, 6, static_cast<uint64_t>(channels));
    const auto path = dir.file("c" + std::to_string(channels) + ".png");
    write_png(path, image);
    expect_header(read_file(path), 6, 9, colour_types[channels - 1]);
    const auto back = read_png(path);
    ASSERT_EQ(back.sizes(), image.sizes()) << channels << " channels";
    EXPECT_TRUE(torch::equal(back, image)) << channels << " channels";
  }
}

TEST(Png, AcceptsNonContiguousImagesAndEncodesToMemory) {
  TempDir dir;
  const auto hwc = random_image(5, 7, 3, 4);  // [5, 7, 3] read as [H, W, C]
  const auto chw = hwc.permute({2, 0, 1});    // a non-contiguous [3, 5, 7]
  const auto bytes = encode_png(chw);
  expect_header(bytes, 7, 5, 2);
  lvm::testing::write_file(dir.file("m.png"), bytes);
  EXPECT_TRUE(torch::equal(read_png(dir.file("m.png")), chw));
}

TEST(Png, ToUint8RoundsLikeTorchvision) {
  const auto x = torch::tensor({-1.0f, 0.0f, 0.2f, 0.5f, 0.999f, 1.0f, 2.0f});
  const auto y = to_uint8(x);
  ASSERT_EQ(y.scalar_type(), torch::kUInt8);
  // round(255 x) clamped: 0.2 -> 51, 0.5 -> 127.5 -> 128, 0.999 -> 254.745 -> 255.
  const std::vector<int> expected = {0, 0, 51, 128, 255, 255, 255};
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(y[i].item<int>(), expected[i]) << "x = " << x[i].item<float>();
}

TEST(Png, BadImagesAreRefusedNamingTheFile) {
  TempDir dir;
  const auto path = dir.file("bad.png");
  try {
    write_png(path, torch::zeros({1, 4, 4}));
    FAIL() << "expected PngError";
  } catch (const PngError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("uint8 image [C, H, W]"), std::string::npos) << e.what();
  }
  try {
    write_png(path, torch::zeros({5, 4, 4}, torch::kUInt8));
    FAIL() << "expected PngError";
  } catch (const PngError& e) {
    EXPECT_NE(std::string(e.what()).find("1, 2, 3 or 4 channels"), std::string::npos) << e.what();
  }
  EXPECT_THROW(write_png(path, torch::zeros({4, 4}, torch::kUInt8)), PngError);
  EXPECT_THROW(write_png(path, torch::zeros({1, 0, 4}, torch::kUInt8)), PngError);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Png, UnwritableAndUnreadableFilesAreNamed) {
  TempDir dir;
  const auto missing_dir = dir.file("no/such/dir/x.png");
  try {
    write_png(missing_dir, torch::zeros({1, 2, 2}, torch::kUInt8));
    FAIL() << "expected IoError";
  } catch (const util::IoError& e) {
    EXPECT_NE(std::string(e.what()).find(missing_dir), std::string::npos) << e.what();
  }
  try {
    read_png(dir.file("absent.png"));
    FAIL() << "expected PngError";
  } catch (const PngError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.png: no such file"), std::string::npos) << e.what();
  }
  lvm::testing::write_file(dir.file("text.png"), "not a png at all");
  try {
    read_png(dir.file("text.png"));
    FAIL() << "expected PngError";
  } catch (const PngError& e) {
    EXPECT_NE(std::string(e.what()).find("text.png: not a readable PNG"), std::string::npos) << e.what();
  }
  // A truncated file: the header is there, the image data is not.
  write_png(dir.file("full.png"), random_image(1, 32, 32, 9));
  const auto full = read_file(dir.file("full.png"));
  lvm::testing::write_file(dir.file("cut.png"), full.substr(0, full.size() / 2));
  EXPECT_THROW(read_png(dir.file("cut.png")), PngError);
}

}  // namespace
}  // namespace lvm::io
