#pragma once
// NumPy's .npy format (versions 1.0, 2.0 and 3.0): the magic "\x93NUMPY", a version, a header
// length (2 bytes little-endian in 1.0, 4 bytes after), then a header that is a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (N, 28, 28), } padded with spaces to a multiple
// of 64 bytes and ended by '\n', then the array's bytes.

#include <string>

#include <torch/types.h>

#include "lvm/data/idx.h"  // DataError

namespace lvm::data {

/// Reads a .npy file into a CPU tensor of its dtype and shape. Accepts the descrs |u1 (uint8),
/// |i1, <i2, <i4, <i8, <f4 and <f8 (little-endian or byte-sized), C order, 0 to 8 dimensions.
/// Validates the magic, the version, the header's syntax and keys (descr, fortran_order, shape,
/// nothing else), and that the file holds exactly the bytes the shape promises. Throws DataError
/// naming the file and the fault.
torch::Tensor read_npy(const std::string& path);

/// Writes a CPU tensor of one of those dtypes as a version 1.0 .npy file (2.0 when the header
/// needs it), atomically (a temporary name, then a rename).
void write_npy(const std::string& path, const torch::Tensor& array);

}  // namespace lvm::data
