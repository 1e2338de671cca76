// The latent scatter plot on points of known position: where they land, their colours, the
// frame, the legend, and the errors.

#include "lvm/io/scatter_plot.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace lvm::io {
namespace {

std::array<int, 3> pixel(const torch::Tensor& image, int64_t row, int64_t column) {
  return {image[0][row][column].item<int>(), image[1][row][column].item<int>(),
          image[2][row][column].item<int>()};
}

std::array<int, 3> colour(int64_t label) {
  const auto& c = kPalette[static_cast<size_t>(label % 10)];
  return {c[0], c[1], c[2]};
}

constexpr std::array<int, 3> kWhite = {255, 255, 255};

// Pixels of exactly this colour inside rows [r0, r1) and columns [c0, c1).
int64_t count_colour(const torch::Tensor& image, const std::array<int, 3>& rgb, int64_t r0, int64_t r1,
                     int64_t c0, int64_t c1) {
  const auto region = image.slice(1, r0, r1).slice(2, c0, c1).to(torch::kInt);
  return ((region[0] == rgb[0]) & (region[1] == rgb[1]) & (region[2] == rgb[2])).sum().item<int64_t>();
}

TEST(ScatterPlot, PointsLandWhereTheMapSaysInTheirLabelsColour) {
  ScatterOptions o;
  o.width = 120;
  o.height = 100;
  o.margin = 10;
  o.pad_fraction = 0;
  o.axes = false;
  o.legend = false;
  o.point_size = 3;
  const auto points = torch::tensor({0.0f, 0.0f, 4.0f, 2.0f, 0.0f, 2.0f, 2.0f, 1.0f}).reshape({4, 2});
  const auto labels = torch::tensor({0, 1, 2, 13}, torch::kLong);
  const auto image = scatter_plot(points, labels, o);
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{3, 100, 120}));
  ASSERT_EQ(image.scalar_type(), torch::kUInt8);

  // Without padding the data's box is the plot area: x in [0, 4] -> columns 10..109, y in [0, 2] ->
  // rows 89..10 (y up). (2, 1) lands on column 10 + round(99 / 2) = 60, row 89 - round(79 / 2) = 49.
  const PlotMap map = plot_map(points, o);
  EXPECT_EQ(map.column(0.0), 10);
  EXPECT_EQ(map.column(4.0), 109);
  EXPECT_EQ(map.row(0.0), 89);
  EXPECT_EQ(map.row(2.0), 10);
  EXPECT_EQ(map.column(2.0), 60);
  EXPECT_EQ(map.row(1.0), 49);

  EXPECT_EQ(pixel(image, 89, 10), colour(0));
  EXPECT_EQ(pixel(image, 10, 109), colour(1));
  EXPECT_EQ(pixel(image, 10, 10), colour(2));
  EXPECT_EQ(pixel(image, 49, 60), colour(3)) << "label 13 takes the palette's colour 3";
  // Each point is a 3x3 square: its corners are coloured, the pixels just beyond are not.
  EXPECT_EQ(pixel(image, 48, 59), colour(3));
  EXPECT_EQ(pixel(image, 50, 61), colour(3));
  EXPECT_EQ(pixel(image, 47, 60), kWhite);
  EXPECT_EQ(pixel(image, 49, 62), kWhite);
  EXPECT_EQ(count_colour(image, colour(3), 0, 100, 0, 120), 9);
  EXPECT_EQ(pixel(image, 70, 30), kWhite);
}

TEST(ScatterPlot, FrameZeroLinesAndLegend) {
  ScatterOptions o;
  o.width = 300;
  o.height = 200;
  o.margin = 20;
  o.pad_fraction = 0;
  const auto points = torch::tensor({-1.0f, -1.0f, 1.0f, 1.0f, 0.5f, -0.5f}).reshape({3, 2});
  const auto labels = torch::tensor({4, 7, 4}, torch::kLong);
  const auto image = scatter_plot(points, labels, o);
  const PlotMap map = plot_map(points, o);
  // The frame sits one pixel outside the plot area; zero lines cross it in light grey.
  const std::array<int, 3> black = {0, 0, 0}, grey = {200, 200, 200};
  EXPECT_EQ(pixel(image, map.top - 1, map.left - 1), black);
  EXPECT_EQ(pixel(image, map.bottom + 1, map.right + 1), black);
  EXPECT_EQ(pixel(image, (map.top + map.bottom) / 2 + 7, map.column(0.0)), grey);
  EXPECT_EQ(pixel(image, map.row(0.0), map.left + 5), grey);
  // Legend, right of the plot area: one 10x10 swatch per label present, none for the others.
  const int64_t legend_left = map.right + 2;
  EXPECT_EQ(count_colour(image, colour(4), 0, 200, legend_left, 300), 100);
  EXPECT_EQ(count_colour(image, colour(7), 0, 200, legend_left, 300), 100);
  for (int64_t absent : {0, 1, 2, 3, 5, 6, 8, 9})
    EXPECT_EQ(count_colour(image, colour(absent), 0, 200, legend_left, 300), 0) << "label " << absent;
  // Digits are drawn in black next to the swatches.
  EXPECT_GT(count_colour(image, black, map.top, map.top + 20, legend_left + 12, 300), 0);
}

TEST(ScatterPlot, SinglePointAndNonFinitePoints) {
  ScatterOptions o;
  o.width = o.height = 100;
  o.legend = false;
  const auto points = torch::tensor({3.0f, 3.0f, NAN, 1.0f}).reshape({2, 2});
  const auto image = scatter_plot(points, torch::tensor({5, 6}, torch::kLong), o);
  // A flat range is widened by 1 each side, so the lone point sits in the middle.
  const PlotMap map = plot_map(points, o);
  EXPECT_EQ(pixel(image, map.row(3.0), map.column(3.0)), colour(5));
  EXPECT_EQ(count_colour(image, colour(6), 0, 100, 0, 100), 0) << "the NaN point is skipped";
}

TEST(ScatterPlot, BadInputsAreClearErrors) {
  const auto expect_error = [](const torch::Tensor& p, const torch::Tensor& l, const ScatterOptions& o,
                               const std::string& what) {
    try {
      scatter_plot(p, l, o);
      ADD_FAILURE() << "expected an error containing '" << what << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  const auto labels = torch::zeros({4}, torch::kLong);
  expect_error(torch::zeros({4, 3}), labels, {}, "expected points [N, 2]");
  expect_error(torch::zeros({0, 2}), torch::zeros({0}, torch::kLong), {}, "no points");
  expect_error(torch::zeros({3, 2}), labels, {}, "expected labels [3]");
  expect_error(torch::zeros({4, 2}), -torch::ones({4}, torch::kLong), {}, "negative");
  ScatterOptions tiny;
  tiny.width = tiny.height = 40;
  expect_error(torch::zeros({4, 2}), labels, tiny, "leaves no room");
}

}  // namespace
}  // namespace lvm::io
