#include "lvm/io/png.h"

#include <png.h>

#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/util/files.h"

namespace lvm::io {
namespace {

// PNG_FORMAT_GRAY is 0, so "no format" is std::nullopt.
std::optional<png_uint_32> format_for_channels(int64_t channels) {
  switch (channels) {
    case 1:
      return PNG_FORMAT_GRAY;
    case 2:
      return PNG_FORMAT_GA;
    case 3:
      return PNG_FORMAT_RGB;
    case 4:
      return PNG_FORMAT_RGBA;
    default:
      return std::nullopt;
  }
}

// Frees libpng's state on every path out of a read or write.
struct ImageGuard {
  png_image image;
  ImageGuard() {
    std::memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
  }
  ~ImageGuard() { png_image_free(&image); }
  ImageGuard(const ImageGuard&) = delete;
  ImageGuard& operator=(const ImageGuard&) = delete;
};

}  // namespace

std::string encode_png(const torch::Tensor& image) {
  if (!image.defined() || image.dim() != 3 || image.scalar_type() != torch::kUInt8) {
    throw PngError(fmt::format("encode_png: expected a uint8 image [C, H, W], got {} of {}",
                               image.defined() ? c10::toString(image.scalar_type()) : "an undefined tensor",
                               image.defined() ? c10::str(image.sizes()) : "no shape"));
  }
  const int64_t channels = image.size(0), height = image.size(1), width = image.size(2);
  const auto format = format_for_channels(channels);
  if (!format) {
    throw PngError(fmt::format("encode_png: expected 1, 2, 3 or 4 channels, got an image of shape {}",
                               c10::str(image.sizes())));
  }
  if (height < 1 || width < 1 || height > PNG_UINT_31_MAX || width > PNG_UINT_31_MAX) {
    throw PngError(fmt::format("encode_png: cannot store an image of shape {}", c10::str(image.sizes())));
  }
  // libpng wants interleaved rows: [H, W, C].
  const auto pixels = image.to(torch::kCPU).permute({1, 2, 0}).contiguous();

  ImageGuard guard;
  guard.image.width = static_cast<png_uint_32>(width);
  guard.image.height = static_cast<png_uint_32>(height);
  guard.image.format = *format;
  // One pass: a buffer of the largest size this image can compress to (libpng's bound).
  png_alloc_size_t size = PNG_IMAGE_PNG_SIZE_MAX(guard.image);
  std::string bytes(size, '\0');
  if (!png_image_write_to_memory(&guard.image, bytes.data(), &size, 0, pixels.data_ptr<uint8_t>(), 0,
                                 nullptr)) {
    throw PngError(std::string("encode_png: libpng: ") + guard.image.message);
  }
  bytes.resize(size);
  return bytes;
}

void write_png(const std::string& path, const torch::Tensor& image) {
  std::string bytes;
  try {
    bytes = encode_png(image);
  } catch (const PngError& e) {
    throw PngError(path + ": " + e.what());
  }
  util::write_file_atomic(path, bytes);
}

torch::Tensor read_png(const std::string& path) {
  if (!std::filesystem::exists(path)) throw PngError(path + ": no such file");
  ImageGuard guard;
  if (!png_image_begin_read_from_file(&guard.image, path.c_str())) {
    throw PngError(path + ": not a readable PNG: " + guard.image.message);
  }
  // The stored layout, 8 bits per channel, palette expanded.
  const png_uint_32 stored = guard.image.format;
  const bool alpha = (stored & PNG_FORMAT_FLAG_ALPHA) != 0;
  const bool colour = (stored & PNG_FORMAT_FLAG_COLOR) != 0;
  const int64_t channels = (colour ? 3 : 1) + (alpha ? 1 : 0);
  guard.image.format = *format_for_channels(channels);
  const int64_t height = guard.image.height, width = guard.image.width;
  auto pixels = torch::empty({height, width, channels}, torch::kUInt8);
  if (!png_image_finish_read(&guard.image, nullptr, pixels.data_ptr<uint8_t>(), 0, nullptr)) {
    throw PngError(path + ": cannot decode PNG: " + guard.image.message);
  }
  return pixels.permute({2, 0, 1}).contiguous();
}

torch::Tensor to_uint8(const torch::Tensor& images) {
  return images.mul(255).add_(0.5).clamp_(0, 255).to(torch::kUInt8);
}

}  // namespace lvm::io
