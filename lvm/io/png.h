#pragma once
// PNG files through libpng (its "simplified" API: no setjmp/longjmp crossing C++ frames). Images
// are uint8 tensors [C, H, W] in torchvision's channel-first layout, C = 1 (grey), 2 (grey +
// alpha), 3 (RGB) or 4 (RGBA). Values are written as they are (8-bit sRGB, no gamma change).

#include <stdexcept>
#include <string>

#include <torch/types.h>

namespace lvm::io {

/// A PNG that cannot be written or read; what() names the file and the fault.
class PngError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Encodes image (uint8 [C, H, W], any device) as a PNG byte string.
std::string encode_png(const torch::Tensor& image);

/// Writes image (uint8 [C, H, W]) to `path` atomically (a reader never sees a half-written file).
/// Throws PngError for a bad tensor, util::IoError when the file cannot be written.
void write_png(const std::string& path, const torch::Tensor& image);

/// Reads a PNG (any bit depth or colour type; palettes are expanded, 16-bit reduced to 8) into
/// uint8 [C, H, W] on the CPU, C as stored: 1, 2, 3 or 4. Throws PngError naming the file.
torch::Tensor read_png(const std::string& path);

/// Float images in [0, 1] -> uint8 the way torchvision's save_image does: round(255 x), clamped.
/// images: [...] float -> [...] uint8
torch::Tensor to_uint8(const torch::Tensor& images);

}  // namespace lvm::io
