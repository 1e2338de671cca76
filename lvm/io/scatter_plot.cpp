#include "lvm/io/scatter_plot.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

namespace lvm::io {

const std::array<std::array<uint8_t, 3>, 10> kPalette = {{{31, 119, 180},
                                                          {255, 127, 14},
                                                          {44, 160, 44},
                                                          {214, 39, 40},
                                                          {148, 103, 189},
                                                          {140, 86, 75},
                                                          {227, 119, 194},
                                                          {127, 127, 127},
                                                          {188, 189, 34},
                                                          {23, 190, 207}}};

namespace {

using Rgb = std::array<uint8_t, 3>;
constexpr Rgb kBlack = {0, 0, 0};
constexpr Rgb kLightGrey = {200, 200, 200};

// Legend: a swatch and up to three digits (5x7 glyphs drawn at twice their size) per entry.
constexpr int64_t kGlyphScale = 2;
constexpr int64_t kSwatch = 10;
constexpr int64_t kEntryHeight = 7 * kGlyphScale + 6;
constexpr int64_t kLegendWidth = kSwatch + 4 + 3 * 6 * kGlyphScale + 4;

// 5x7 bitmaps of the digits, one row per entry, the most significant of 5 bits on the left.
constexpr uint8_t kDigits[10][7] = {
    {0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110},
    {0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110},
    {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111},
    {0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110},
    {0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010},
    {0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110},
    {0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110},
    {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000},
    {0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110},
    {0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100},
};

// An RGB canvas, row-major [H, W, 3]; drawing outside it is clipped.
class Canvas {
 public:
  Canvas(int64_t height, int64_t width)
      : height_(height), width_(width), pixels_(static_cast<size_t>(height * width * 3), 255) {}

  void set(int64_t row, int64_t column, const Rgb& colour) {
    if (row < 0 || row >= height_ || column < 0 || column >= width_) return;
    const auto at = static_cast<size_t>((row * width_ + column) * 3);
    std::copy(colour.begin(), colour.end(), pixels_.begin() + static_cast<std::ptrdiff_t>(at));
  }
  // Rows [top, top + h), columns [left, left + w).
  void fill(int64_t top, int64_t left, int64_t h, int64_t w, const Rgb& colour) {
    for (int64_t r = top; r < top + h; ++r)
      for (int64_t c = left; c < left + w; ++c) set(r, c, colour);
  }
  void digit(int64_t top, int64_t left, int value, const Rgb& colour) {
    for (int64_t r = 0; r < 7; ++r)
      for (int64_t c = 0; c < 5; ++c)
        if ((kDigits[value][r] >> (4 - c)) & 1)
          fill(top + r * kGlyphScale, left + c * kGlyphScale, kGlyphScale, kGlyphScale, colour);
  }
  torch::Tensor tensor() const {
    auto t = torch::empty({height_, width_, 3}, torch::kUInt8);
    std::copy(pixels_.begin(), pixels_.end(), t.data_ptr<uint8_t>());
    return t.permute({2, 0, 1}).contiguous();
  }

 private:
  int64_t height_, width_;
  std::vector<uint8_t> pixels_;
};

// [lo, hi] of the finite values, widened by `pad` of the extent (or by 1 each side if flat).
std::pair<double, double> padded_range(const std::vector<double>& values, double pad) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!std::isfinite(lo)) return {-1.0, 1.0};
  if (hi - lo <= 0) return {lo - 1.0, hi + 1.0};
  const double extra = pad * (hi - lo);
  return {lo - extra, hi + extra};
}

void check_inputs(const torch::Tensor& points, const ScatterOptions& o) {
  if (!points.defined() || points.dim() != 2 || points.size(1) != 2) {
    throw std::invalid_argument("scatter plot: expected points [N, 2], got " +
                                (points.defined() ? c10::str(points.sizes()) : std::string("nothing")));
  }
  if (points.size(0) == 0) throw std::invalid_argument("scatter plot: no points");
  const int64_t legend = o.legend ? kLegendWidth : 0;
  if (o.margin < 0 || o.point_size < 1 || o.width - 2 * o.margin - legend < 16 ||
      o.height - 2 * o.margin < 16) {
    throw std::invalid_argument(
        fmt::format("scatter plot: a {}x{} canvas with margin {} (and point size {}) leaves no room to plot",
                    o.width, o.height, o.margin, o.point_size));
  }
}

std::vector<double> column_values(const torch::Tensor& points, int64_t column) {
  const auto c = points.select(1, column).to(torch::kCPU, torch::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

}  // namespace

int64_t PlotMap::column(double x) const {
  return left + static_cast<int64_t>(std::lround((x - x0) / (x1 - x0) * static_cast<double>(right - left)));
}

int64_t PlotMap::row(double y) const {
  return bottom - static_cast<int64_t>(std::lround((y - y0) / (y1 - y0) * static_cast<double>(bottom - top)));
}

PlotMap plot_map(const torch::Tensor& points, const ScatterOptions& options) {
  check_inputs(points, options);
  PlotMap map;
  std::tie(map.x0, map.x1) = padded_range(column_values(points, 0), options.pad_fraction);
  std::tie(map.y0, map.y1) = padded_range(column_values(points, 1), options.pad_fraction);
  map.left = options.margin;
  map.right = options.width - options.margin - 1 - (options.legend ? kLegendWidth : 0);
  map.top = options.margin;
  map.bottom = options.height - options.margin - 1;
  return map;
}

torch::Tensor scatter_plot(const torch::Tensor& points, const torch::Tensor& labels,
                           const ScatterOptions& options) {
  const PlotMap map = plot_map(points, options);
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != points.size(0)) {
    throw std::invalid_argument(fmt::format("scatter plot: expected labels [{}] for points {}, got {}",
                                            points.size(0), c10::str(points.sizes()),
                                            labels.defined() ? c10::str(labels.sizes()) : "nothing"));
  }
  const auto label_values = labels.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* label = label_values.data_ptr<int64_t>();
  const auto xs = column_values(points, 0), ys = column_values(points, 1);

  Canvas canvas(options.height, options.width);
  if (options.axes) {
    // Zero lines first so that points cover them; the frame goes just outside the plot area.
    if (map.x0 < 0 && map.x1 > 0) {
      const int64_t c = map.column(0.0);
      canvas.fill(map.top, c, map.bottom - map.top + 1, 1, kLightGrey);
    }
    if (map.y0 < 0 && map.y1 > 0) {
      const int64_t r = map.row(0.0);
      canvas.fill(r, map.left, 1, map.right - map.left + 1, kLightGrey);
    }
  }
  std::set<int64_t> present;
  const int64_t before = (options.point_size - 1) / 2;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!std::isfinite(xs[i]) || !std::isfinite(ys[i])) continue;
    if (label[i] < 0)
      throw std::invalid_argument(fmt::format("scatter plot: label {} of point {} is negative", label[i], i));
    present.insert(label[i]);
    canvas.fill(map.row(ys[i]) - before, map.column(xs[i]) - before, options.point_size, options.point_size,
                kPalette[static_cast<size_t>(label[i] % 10)]);
  }
  if (options.axes) {
    const int64_t h = map.bottom - map.top + 3, w = map.right - map.left + 3;
    canvas.fill(map.top - 1, map.left - 1, 1, w, kBlack);
    canvas.fill(map.bottom + 1, map.left - 1, 1, w, kBlack);
    canvas.fill(map.top - 1, map.left - 1, h, 1, kBlack);
    canvas.fill(map.top - 1, map.right + 1, h, 1, kBlack);
  }
  if (options.legend) {
    const int64_t left = map.right + 8;
    int64_t top = map.top;
    for (int64_t value : present) {
      if (top + kEntryHeight > map.bottom) break;  // no room for more entries
      canvas.fill(top + 2, left, kSwatch, kSwatch, kPalette[static_cast<size_t>(value % 10)]);
      const std::string digits = std::to_string(value).substr(0, 3);
      for (size_t d = 0; d < digits.size(); ++d) {
        canvas.digit(top, left + kSwatch + 4 + static_cast<int64_t>(d) * 6 * kGlyphScale, digits[d] - '0',
                     kBlack);
      }
      top += kEntryHeight;
    }
  }
  return canvas.tensor();
}

}  // namespace lvm::io
