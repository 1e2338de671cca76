// Fuzz target for the IDX reader. Checks, beyond "accept or DataError naming the file":
// - an accepted raw file is reproduced byte for byte by write_idx (the reader and writer agree on
//   the format, and nothing of the file was ignored);
// - the same bytes gzip-compressed give the same outcome and the same array.
#include <zlib.h>

#include <cstring>
#include <optional>
#include <vector>

#include <torch/torch.h>

#include "lvm/data/idx.h"
#include "tests/fuzz/fuzz_targets.h"

namespace lvm::fuzz {
namespace {

std::vector<uint8_t> gzip(const uint8_t* data, size_t size) {
  z_stream stream{};
  // windowBits 15 + 16: a gzip header and trailer rather than zlib's.
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    finding("deflateInit2 failed");
  std::vector<uint8_t> out(deflateBound(&stream, size) + 32);
  stream.next_in = const_cast<Bytef*>(data);
  stream.avail_in = static_cast<uInt>(size);
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) finding("deflate did not finish");
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// The array, or nullopt after a DataError that names the file.
std::optional<torch::Tensor> read(const std::string& path) {
  try {
    return data::read_idx(path);
  } catch (const data::DataError& e) {
    expect_names(e.what(), path, "read_idx");
    return std::nullopt;
  }
}

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool same_bytes(const torch::Tensor& a, const torch::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() &&
         std::memcmp(a.data_ptr(), b.data_ptr(), a.numel() * a.element_size()) == 0;
}

}  // namespace

Outcome idx_input(const uint8_t* data, size_t size) {
  // Inputs larger than any seed only slow the fuzzer down (the reader streams its data).
  if (size > (1 << 16)) return Outcome::kRejected;
  ScratchFile raw(scratch_path("input.idx"));
  write_bytes(raw.path, data, size);
  const std::optional<torch::Tensor> array = read(raw.path);

  // Inputs that already are gzip streams exercise the gzip path directly; the rest are also read
  // compressed, which must not change the result.
  const bool is_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (array) {
    const torch::Tensor& a = *array;
    if (a.dim() < 1 || a.dim() > 4)
      finding("read_idx returned a tensor with " + std::to_string(a.dim()) + " dims");
    ScratchFile copy(scratch_path("copy.idx"));
    data::write_idx(copy.path, a);
    if (!is_gzip && bytes_of(copy.path) != std::string(reinterpret_cast<const char*>(data), size))
      finding("write_idx(read_idx(file)) differs from the file");
    if (is_gzip) {
      const std::optional<torch::Tensor> again = read(copy.path);
      if (!again || !same_bytes(a, *again)) finding("read_idx(write_idx(array)) differs from the array");
    }
  }
  if (!is_gzip) {
    ScratchFile gz(scratch_path("input.idx.gz"));
    const std::vector<uint8_t> compressed = gzip(data, size);
    write_bytes(gz.path, compressed.data(), compressed.size());
    const std::optional<torch::Tensor> from_gz = read(gz.path);
    if (from_gz.has_value() != array.has_value())
      finding(std::string("raw and gzip copies disagree: raw ") + (array ? "accepted" : "rejected"));
    if (array && !same_bytes(*array, *from_gz)) finding("raw and gzip copies give different arrays");
  }
  return array ? Outcome::kAccepted : Outcome::kRejected;
}

}  // namespace lvm::fuzz

LVM_FUZZ_TARGET(idx_input)
