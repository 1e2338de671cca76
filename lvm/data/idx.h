#pragma once
// The IDX format of MNIST-style data sets: a big-endian header (two zero bytes, a dtype code, the
// number of dimensions, then each dimension as a 32-bit integer) followed by the array in
// row-major order. Files may be raw or gzip-compressed (detected from the content, not the name).

#include <stdexcept>
#include <string>

#include <torch/types.h>

namespace lvm::data {

/// A data file that cannot be used; what() names the file and the fault, e.g.
/// "data/mnist/t10k-images-idx3-ubyte: truncated: header promises 7840000 bytes of data, file has 1000".
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads an IDX file into a CPU tensor of the file's dtype (0x08 -> uint8, 0x09 -> int8,
/// 0x0B -> int16, 0x0C -> int32, 0x0D -> float32, 0x0E -> float64) and dimensions.
/// Validates the magic, dtype code, dimension count (1..4), that no dimension is zero, and that
/// the file length matches the header exactly (no truncation, no trailing bytes).
/// Throws DataError.
torch::Tensor read_idx(const std::string& path);

/// Writes a CPU tensor (one of the dtypes above, 1..4 dims) as IDX, gzip-compressed when `gzip`.
/// The file appears atomically (written to a temporary name, then renamed).
void write_idx(const std::string& path, const torch::Tensor& array, bool gzip = false);

}  // namespace lvm::data
