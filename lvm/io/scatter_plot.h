#pragma once
// A scatter plot drawn straight into an RGB image (no plotting library, so `lvm sample --latents`
// works without Python): points as small squares coloured by an integer label from a 10-colour
// palette, an optional frame with zero lines, and an optional legend of label swatches with
// their digits.

#include <array>
#include <cstdint>

#include <torch/types.h>

namespace lvm::io {

/// matplotlib's "tab10" colours, as 8-bit RGB; label l is drawn in kPalette[l mod 10].
extern const std::array<std::array<uint8_t, 3>, 10> kPalette;

struct ScatterOptions {
  int64_t width = 640;
  int64_t height = 640;
  /// Empty border around the plot area (the legend goes into the right one).
  int64_t margin = 24;
  /// Side of the square drawn for each point (odd sizes are centred exactly).
  int64_t point_size = 3;
  /// Extra room around the data's bounding box, as a fraction of its extent on each axis.
  double pad_fraction = 0.03;
  bool axes = true;    // frame around the plot area and the lines x = 0, y = 0 where visible
  bool legend = true;  // a swatch and the label's digits for each label present
};

/// Where point (x, y) lands on the image: the data's bounding box (both axes scaled alike only
/// if the extents agree; each axis fills the plot area) plus padding maps onto
/// [margin, width - margin - 1] x [margin, height - margin - 1], y pointing up.
struct PlotMap {
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;  // data range shown
  int64_t left = 0, right = 1, top = 0, bottom = 1;
  int64_t column(double x) const;
  int64_t row(double y) const;
};

/// The mapping scatter_plot uses for `points` ([N, 2]).
PlotMap plot_map(const torch::Tensor& points, const ScatterOptions& options = {});

/// points: [N, 2] (x, y), labels: [N] integers >= 0 -> uint8 [3, height, width] on a white
/// background. Points are drawn in order (later ones on top). Non-finite points are skipped.
/// Throws std::invalid_argument for mismatched shapes, no points, or a too-small canvas.
torch::Tensor scatter_plot(const torch::Tensor& points, const torch::Tensor& labels,
                           const ScatterOptions& options = {});

}  // namespace lvm::io
