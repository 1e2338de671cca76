#pragma once
// Image grids in the spirit of torchvision.utils.make_grid / save_image: N images laid out
// `nrow` to a row (so ceil(N / nrow) rows), each surrounded by `padding` pixels of `pad_value`.
// Differences from torchvision: grey images stay grey (one channel, not copied to three) and a
// single image is padded like any other.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <torch/types.h>

namespace lvm::io {

struct GridOptions {
  /// Images per row (the number of columns).
  int64_t nrow = 8;
  /// Pixels between images and around the border.
  int64_t padding = 2;
  /// Colour of the padding, in the images' value scale after normalisation ([0, 1]).
  double pad_value = 0.0;
  /// Rescale values to [0, 1]: from `value_range` if given, else from the min and max over all
  /// images (or over each image with `scale_each`). Without it, values are taken to be in [0, 1].
  bool normalize = false;
  std::optional<std::pair<double, double>> value_range;
  bool scale_each = false;
  /// For flattened images [N, D]: their height and width (D = H*W for grey, 3*H*W for colour,
  /// stored channel-first). 0 with D = H*W a perfect square: square grey images.
  int64_t height = 0;
  int64_t width = 0;
  /// Each image pixel becomes a scale x scale block (nearest neighbour), e.g. to make 8x8 images
  /// visible; padding is in output pixels.
  int64_t scale = 1;
};

/// images: [N, C, H, W] (C = 1 or 3), [N, H, W] (grey), or [N, D] flattened (see GridOptions)
/// -> float [C, rows*(H*scale + padding) + padding, nrow'*(W*scale + padding) + padding] on the
/// CPU with values in [0, 1], where nrow' = min(nrow, N) and rows = ceil(N / nrow').
/// Throws std::invalid_argument for an empty batch, bad shapes or options.
torch::Tensor make_grid(const torch::Tensor& images, const GridOptions& options = {});

/// make_grid, then written as an 8-bit PNG (grey or RGB) to `path` atomically.
void save_image(const torch::Tensor& images, const std::string& path, const GridOptions& options = {});

/// The [N, C, H, W] view of `images` that make_grid lays out (exposed for callers that need the
/// image size): [N, C, H, W] | [N, H, W] | [N, D] -> [N, C, H, W].
torch::Tensor as_image_batch(const torch::Tensor& images, int64_t height = 0, int64_t width = 0);

}  // namespace lvm::io
