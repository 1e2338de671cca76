#include "lvm/data/idx.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tests/testing.h"

namespace lvm::data {
namespace {

using lvm::testing::read_file;
using lvm::testing::TempDir;
using lvm::testing::write_file;

// --- helpers -------------------------------------------------------------------------------------

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

std::string be32(uint32_t v) {
  return bytes({static_cast<int>(v >> 24), static_cast<int>((v >> 16) & 0xFF),
                static_cast<int>((v >> 8) & 0xFF), static_cast<int>(v & 0xFF)});
}

uint32_t crc32(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string le32(uint32_t v) {
  return bytes({static_cast<int>(v & 0xFF), static_cast<int>((v >> 8) & 0xFF),
                static_cast<int>((v >> 16) & 0xFF), static_cast<int>(v >> 24)});
}

// A gzip file made independently of zlib: stored (uncompressed) deflate blocks, so the reader is
// checked against a second encoder, not only against write_idx.
std::string gzip_stored(const std::string& data) {
  std::string out = bytes({0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3});
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(data.size() - pos, 65535);
    const bool last = pos + n == data.size();
    out.push_back(last ? 1 : 0);
    out += bytes({static_cast<int>(n & 0xFF), static_cast<int>(n >> 8), static_cast<int>(~n & 0xFF),
                  static_cast<int>((~n >> 8) & 0xFF)});
    out += data.substr(pos, n);
    pos += n;
  } while (pos < data.size());
  return out + le32(crc32(data)) + le32(static_cast<uint32_t>(data.size()));
}

// Expects read_idx(path) to throw a DataError whose message starts with the path and mentions
// `fault`.
void expect_read_error(const std::string& path, const std::string& fault) {
  try {
    read_idx(path);
    ADD_FAILURE() << "read_idx(" << path << ") did not throw; expected: " << fault;
  } catch (const DataError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(path, 0), 0u) << "message does not start with the path: " << message;
    EXPECT_NE(message.find(fault), std::string::npos) << "expected '" << fault << "' in: " << message;
  }
}

// Values spread over the dtype's whole range (negative ones included), from a private generator.
torch::Tensor sample(torch::ScalarType type, const std::vector<int64_t>& shape) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1234);
  const auto ints = [&](int64_t low, int64_t high) {
    return torch::randint(low, high, shape, gen, torch::kInt64).to(type);
  };
  switch (type) {
    case torch::kUInt8:
      return ints(0, 256);
    case torch::kInt8:
      return ints(-128, 128);
    case torch::kInt16:
      return ints(-32768, 32768);
    case torch::kInt32:
      return ints(INT32_MIN, int64_t{INT32_MAX} + 1);
    default:
      return (torch::randn(shape, gen, torch::kFloat64) * 1e3).to(type);
  }
}

const std::vector<std::vector<int64_t>> kShapes = {{7}, {3, 5}, {2, 3, 4}, {2, 1, 3, 2}};

// --- round trips ---------------------------------------------------------------------------------

class IdxRoundTrip : public ::testing::TestWithParam<std::tuple<torch::ScalarType, bool>> {};

TEST_P(IdxRoundTrip, EveryRankSurvivesWriteAndRead) {
  const auto [type, gzip] = GetParam();
  TempDir dir;
  for (const auto& shape : kShapes) {
    const torch::Tensor original = sample(type, shape);
    const std::string path = dir.file("a" + std::to_string(shape.size()) + ".idx");
    write_idx(path, original, gzip);
    const std::string raw = read_file(path);
    ASSERT_GE(raw.size(), 2u);
    if (gzip) {
      EXPECT_EQ(raw.substr(0, 2), bytes({0x1f, 0x8b})) << "expected a gzip file";
    } else {
      EXPECT_EQ(raw.size(), 4 + 4 * shape.size() + original.numel() * original.element_size());
    }
    const torch::Tensor back = read_idx(path);
    EXPECT_EQ(back.scalar_type(), type);
    EXPECT_EQ(back.sizes(), original.sizes());
    EXPECT_TRUE(torch::equal(back, original)) << "shape rank " << shape.size();
  }
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, IdxRoundTrip,
                         ::testing::Combine(::testing::Values(torch::kUInt8, torch::kInt8, torch::kInt16,
                                                              torch::kInt32, torch::kFloat32,
                                                              torch::kFloat64),
                                            ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(c10::toString(std::get<0>(info.param))) +
                                  (std::get<1>(info.param) ? "_gzip" : "_raw");
                         });

TEST(Idx, WritesBigEndianHeaderAndData) {
  TempDir dir;
  const std::string path = dir.file("x.idx");
  write_idx(path, torch::tensor({1, 258, -2}, torch::kInt32));
  EXPECT_EQ(read_file(path), bytes({0, 0, 0x0C, 1}) + be32(3) + be32(1) + be32(258) + be32(0xFFFFFFFEu));
}

TEST(Idx, ReadsHandMadeBigEndianFile) {
  TempDir dir;
  const std::string path = dir.file("h.idx");
  // int16 [2, 2]: 1, 256, -1, 0x1234
  write_file(path, bytes({0, 0, 0x0B, 2}) + be32(2) + be32(2) + bytes({0, 1, 1, 0, 0xFF, 0xFF, 0x12, 0x34}));
  const torch::Tensor t = read_idx(path);
  EXPECT_EQ(t.scalar_type(), torch::kInt16);
  EXPECT_TRUE(torch::equal(t, torch::tensor({1, 256, -1, 0x1234}, torch::kInt16).reshape({2, 2})));
}

TEST(Idx, ReadsFloatFromIndependentGzipEncoderRegardlessOfName) {
  TempDir dir;
  const std::string path = dir.file("no_gz_suffix");
  // float32 [2]: 1.0 (0x3F800000), -2.5 (0xC0200000)
  write_file(path, gzip_stored(bytes({0, 0, 0x0D, 1}) + be32(2) + be32(0x3F800000u) + be32(0xC0200000u)));
  const torch::Tensor t = read_idx(path);
  EXPECT_TRUE(torch::equal(t, torch::tensor({1.0f, -2.5f})));
}

TEST(Idx, LargeGzipSpanningManyBlocks) {
  TempDir dir;
  const torch::Tensor original = sample(torch::kUInt8, {300, 28, 28});  // 235 kB: several stored blocks
  const std::string plain = dir.file("plain");
  write_idx(plain, original);
  const std::string gz = dir.file("stored.gz");
  write_file(gz, gzip_stored(read_file(plain)));
  EXPECT_TRUE(torch::equal(read_idx(gz), original));
}

TEST(Idx, WriteReplacesAtomicallyAndLeavesNoTemporaryFiles) {
  TempDir dir;
  const std::string path = dir.file("x.idx");
  write_idx(path, torch::ones({4}, torch::kUInt8));
  write_idx(path, torch::zeros({2, 3}, torch::kFloat64), /*gzip=*/true);
  EXPECT_TRUE(torch::equal(read_idx(path), torch::zeros({2, 3}, torch::kFloat64)));
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
    EXPECT_EQ(entry.path().filename(), "x.idx");
  }
  EXPECT_EQ(entries, 1);
}

TEST(Idx, WriteRefusesWhatIdxCannotHold) {
  TempDir dir;
  const std::string path = dir.file("x.idx");
  EXPECT_THROW(write_idx(path, torch::zeros({3}, torch::kInt64)), DataError);
  EXPECT_THROW(write_idx(path, torch::zeros({1, 1, 1, 1, 1}, torch::kUInt8)), DataError);
  EXPECT_THROW(write_idx(path, torch::zeros({}, torch::kUInt8)), DataError);
  EXPECT_THROW(write_idx(path, torch::zeros({3, 0}, torch::kUInt8)), DataError);
  EXPECT_FALSE(std::filesystem::exists(path));
  // A directory that does not exist: the error names the target.
  try {
    write_idx(dir.file("no/such/dir/x.idx"), torch::zeros({3}, torch::kUInt8));
    ADD_FAILURE() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(dir.file("no/such/dir/x.idx"), 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
  }
}

// --- corrupt files -------------------------------------------------------------------------------

TEST(IdxErrors, WrongMagic) {
  TempDir dir;
  const std::string path = dir.file("bad");
  write_file(path, bytes({0x50, 0x4B, 0x08, 1}) + be32(1) + bytes({0}));
  expect_read_error(path, "bad magic: first two bytes are 0x50 0x4B");
}

TEST(IdxErrors, UnknownDtypeCode) {
  TempDir dir;
  const std::string path = dir.file("bad");
  write_file(path, bytes({0, 0, 0x07, 1}) + be32(1) + bytes({0}));
  expect_read_error(path, "unknown dtype code 0x07");
}

TEST(IdxErrors, NoDimensions) {
  TempDir dir;
  const std::string path = dir.file("bad");
  write_file(path, bytes({0, 0, 0x08, 0}));
  expect_read_error(path, "unsupported number of dimensions 0 (expected 1..4)");
}

TEST(IdxErrors, TooManyDimensions) {
  TempDir dir;
  const std::string path = dir.file("bad");
  write_file(path, bytes({0, 0, 0x08, 5}) + be32(1) + be32(1) + be32(1) + be32(1) + be32(1) + bytes({0}));
  expect_read_error(path, "unsupported number of dimensions 5 (expected 1..4)");
}

TEST(IdxErrors, ZeroDimension) {
  TempDir dir;
  const std::string path = dir.file("bad");
  write_file(path, bytes({0, 0, 0x08, 2}) + be32(3) + be32(0));
  expect_read_error(path, "dimension 2 of 2 is zero");
}

TEST(IdxErrors, TruncatedHeader) {
  TempDir dir;
  const std::string short_magic = dir.file("two_bytes");
  write_file(short_magic, bytes({0, 0}));
  expect_read_error(short_magic, "truncated header: an IDX header needs at least 4 bytes, file has 2");
  const std::string empty = dir.file("empty");
  write_file(empty, "");
  expect_read_error(empty, "file has 0");
  const std::string short_dims = dir.file("short_dims");
  write_file(short_dims, bytes({0, 0, 0x08, 3}) + be32(10) + bytes({0, 0}));
  expect_read_error(short_dims, "truncated header: 3 dimensions need 16 header bytes, file has 10");
}

TEST(IdxErrors, TruncatedData) {
  TempDir dir;
  const std::string path = dir.file("bad");
  write_file(path, bytes({0, 0, 0x0C, 1}) + be32(10) + std::string(7, 'x'));
  expect_read_error(path, "truncated: header promises 40 bytes of data");
  expect_read_error(path, "file has 7");
}

// Found by tests/fuzz/idx_fuzz.cpp: a 14-byte file whose header promised 13 GB made read_idx
// allocate the 13 GB before finding the data missing.
TEST(IdxErrors, HeaderPromisingGigabytesIsTruncatedNotAllocated) {
  TempDir dir;
  const std::string path = dir.file("bad");
  write_file(path, bytes({0, 0, 0x08, 2}) + be32(1 << 16) + be32(1 << 16) + std::string(3, 'x'));
  expect_read_error(
      path, "truncated: header promises 4294967296 bytes of data (uint8 [65536 x 65536]), file has 3");
}

// Beyond 64 MiB the data is read in growing chunks rather than straight into the array.
TEST(Idx, LargeArrayReadInChunksRoundTrips) {
  TempDir dir;
  const std::string path = dir.file("large");
  const int64_t n = (int64_t{1} << 26) + 5;
  const torch::Tensor array = torch::arange(251, torch::kUInt8).repeat({n / 251 + 1}).narrow(0, 0, n);
  write_idx(path, array);
  EXPECT_TRUE(torch::equal(read_idx(path), array));
}

TEST(IdxErrors, TruncatedDataInsideValidGzip) {
  TempDir dir;
  const std::string path = dir.file("bad.gz");
  write_file(path, gzip_stored(bytes({0, 0, 0x08, 2}) + be32(4) + be32(4) + std::string(9, 'x')));
  expect_read_error(path, "truncated: header promises 16 bytes of data");
  expect_read_error(path, "file has 9 (after decompression)");
}

TEST(IdxErrors, TrailingBytes) {
  TempDir dir;
  const std::string path = dir.file("bad");
  write_file(path, bytes({0, 0, 0x08, 1}) + be32(3) + std::string(5, 'x'));
  expect_read_error(path, "trailing data: 2 bytes after the 3 bytes");
}

TEST(IdxErrors, AbsurdSize) {
  TempDir dir;
  const std::string path = dir.file("bad");
  // 2^32-1 to the fourth power, times 8: overflows 64 bits if multiplied naively.
  write_file(path, bytes({0, 0, 0x0E, 4}) + be32(0xFFFFFFFFu) + be32(0xFFFFFFFFu) + be32(0xFFFFFFFFu) +
                       be32(0xFFFFFFFFu));
  expect_read_error(path, "more than 2^34 bytes");
  const std::string big = dir.file("big");
  write_file(big, bytes({0, 0, 0x08, 2}) + be32(1u << 17) + be32(1u << 18));  // exactly 2^35 bytes
  expect_read_error(big, "more than 2^34 bytes");
}

TEST(IdxErrors, CorruptGzip) {
  TempDir dir;
  const std::string good = dir.file("good.gz");
  write_idx(good, sample(torch::kFloat32, {64, 64}), /*gzip=*/true);
  std::string content = read_file(good);

  const std::string flipped = dir.file("flipped.gz");
  std::string damaged = content;
  for (size_t i = 20; i < 60; ++i) damaged[i] = static_cast<char>(damaged[i] ^ 0x5A);
  write_file(flipped, damaged);
  expect_read_error(flipped, "corrupt gzip stream");

  const std::string cut = dir.file("cut.gz");
  write_file(cut, content.substr(0, content.size() / 2));
  expect_read_error(cut, "corrupt gzip stream");

  const std::string garbage = dir.file("garbage.gz");
  write_file(garbage, bytes({0x1f, 0x8b}) + std::string(100, 'z'));
  expect_read_error(garbage, "corrupt gzip stream");

  // Right data, wrong checksum.
  const std::string bad_crc = dir.file("bad_crc.gz");
  std::string stored = gzip_stored(bytes({0, 0, 0x08, 1}) + be32(2) + bytes({7, 9}));
  stored[stored.size() - 8] = static_cast<char>(stored[stored.size() - 8] ^ 1);
  write_file(bad_crc, stored);
  expect_read_error(bad_crc, "corrupt gzip stream");
}

TEST(IdxErrors, EmptyFiles) {
  TempDir dir;
  write_file(dir.file("empty"), "");
  expect_read_error(dir.file("empty"), "truncated header: an IDX header needs at least 4 bytes, file has 0");
  // A valid gzip stream of nothing.
  write_file(dir.file("empty.gz"), gzip_stored(""));
  expect_read_error(
      dir.file("empty.gz"),
      "truncated header: an IDX header needs at least 4 bytes, file has 0 (after decompression)");
  // Only the gzip magic.
  write_file(dir.file("magic.gz"), bytes({0x1f, 0x8b}));
  expect_read_error(dir.file("magic.gz"), "corrupt gzip stream");
}

TEST(IdxErrors, GzipCutAtEveryPartOfTheStream) {
  // Header, inside the data, inside the CRC, inside the length: each named as a corrupt stream.
  TempDir dir;
  const std::string stored = gzip_stored(bytes({0, 0, 0x08, 1}) + be32(300) + std::string(300, '\x07'));
  for (const size_t cut : {size_t{5}, size_t{12}, size_t{200}, stored.size() - 6, stored.size() - 1}) {
    const std::string path = dir.file("cut" + std::to_string(cut) + ".gz");
    write_file(path, stored.substr(0, cut));
    expect_read_error(path, "corrupt gzip stream");
  }
}

TEST(IdxErrors, MissingFileAndDirectory) {
  TempDir dir;
  expect_read_error(dir.file("nope"), "cannot open: No such file or directory");
  expect_read_error(dir.path(), "Is a directory");
}

}  // namespace
}  // namespace lvm::data
