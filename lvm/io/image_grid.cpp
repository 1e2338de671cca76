#include "lvm/io/image_grid.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/io/png.h"

namespace lvm::io {
namespace {

std::string shape_of(const torch::Tensor& t) { return c10::str(t.sizes()); }

void check_options(const GridOptions& o) {
  if (o.nrow < 1) throw std::invalid_argument(fmt::format("image grid: nrow must be >= 1, got {}", o.nrow));
  if (o.padding < 0) {
    throw std::invalid_argument(fmt::format("image grid: padding must be >= 0, got {}", o.padding));
  }
  if (o.scale < 1)
    throw std::invalid_argument(fmt::format("image grid: scale must be >= 1, got {}", o.scale));
  if (!std::isfinite(o.pad_value)) throw std::invalid_argument("image grid: pad_value must be finite");
  if (o.value_range && !(o.value_range->first < o.value_range->second)) {
    throw std::invalid_argument(fmt::format("image grid: value_range must have low < high, got ({}, {})",
                                            o.value_range->first, o.value_range->second));
  }
}

}  // namespace

torch::Tensor as_image_batch(const torch::Tensor& images, int64_t height, int64_t width) {
  if (!images.defined()) throw std::invalid_argument("image grid: no images (undefined tensor)");
  if (images.dim() == 4) {
    if (images.size(1) != 1 && images.size(1) != 3) {
      throw std::invalid_argument("image grid: expected images [N, C, H, W] with C = 1 or 3, got " +
                                  shape_of(images));
    }
    return images;
  }
  if (images.dim() == 3) return images.unsqueeze(1);
  if (images.dim() != 2) {
    throw std::invalid_argument("image grid: expected images [N, C, H, W], [N, H, W] or [N, D], got " +
                                shape_of(images));
  }
  const int64_t dim = images.size(1);
  if ((height == 0) != (width == 0) || height < 0 || width < 0) {
    throw std::invalid_argument(
        fmt::format("image grid: give both height and width (or neither), got {} x {}", height, width));
  }
  if (height == 0) {
    const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(dim))));
    if (side * side != dim) {
      throw std::invalid_argument(fmt::format(
          "image grid: flattened images of {} values are not square; give their height and width", dim));
    }
    height = width = side;
  }
  int64_t channels = 0;
  if (height * width == dim) {
    channels = 1;
  } else if (3 * height * width == dim) {
    channels = 3;
  } else {
    throw std::invalid_argument(fmt::format(
        "image grid: flattened images of {} values are neither {}x{} grey nor {}x{} colour (3 x {} values)",
        dim, height, width, height, width, height * width));
  }
  return images.reshape({images.size(0), channels, height, width});
}

torch::Tensor make_grid(const torch::Tensor& images, const GridOptions& options) {
  check_options(options);
  auto x = as_image_batch(images, options.height, options.width).detach().to(torch::kCPU, torch::kFloat);
  const int64_t n = x.size(0);
  if (n == 0) throw std::invalid_argument("image grid: no images (batch of 0)");

  if (options.normalize || options.value_range) {
    torch::Tensor low, high;
    if (options.value_range) {
      low = torch::full({n, 1, 1, 1}, options.value_range->first);
      high = torch::full({n, 1, 1, 1}, options.value_range->second);
    } else if (options.scale_each) {
      const auto flat = x.reshape({n, -1});
      low = std::get<0>(flat.min(1)).reshape({n, 1, 1, 1});
      high = std::get<0>(flat.max(1)).reshape({n, 1, 1, 1});
    } else {
      low = x.min().expand({n, 1, 1, 1});
      high = x.max().expand({n, 1, 1, 1});
    }
    // A constant image maps to 0 rather than dividing by zero (torchvision uses the same 1e-5).
    x = (torch::max(torch::min(x, high), low) - low) / (high - low).clamp_min(1e-5);
  }
  if (options.scale > 1) {
    x = x.repeat_interleave(options.scale, 2).repeat_interleave(options.scale, 3);
  }

  const int64_t channels = x.size(1), height = x.size(2), width = x.size(3);
  const int64_t pad = options.padding;
  const int64_t columns = std::min(options.nrow, n);
  const int64_t rows = (n + columns - 1) / columns;
  auto grid = torch::full({channels, rows * (height + pad) + pad, columns * (width + pad) + pad},
                          options.pad_value, torch::kFloat);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t top = (k / columns) * (height + pad) + pad;
    const int64_t left = (k % columns) * (width + pad) + pad;
    grid.narrow(1, top, height).narrow(2, left, width).copy_(x[k]);
  }
  return grid;
}

void save_image(const torch::Tensor& images, const std::string& path, const GridOptions& options) {
  write_png(path, to_uint8(make_grid(images, options)));
}

}  // namespace lvm::io
