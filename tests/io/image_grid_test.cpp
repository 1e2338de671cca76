// Image grids on synthetic images of known values: size, padding, placement, normalisation, and
// the shapes accepted.

#include "lvm/io/image_grid.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "lvm/io/png.h"
#include "tests/testing.h"

namespace lvm::io {
namespace {

// N images [N, C, H, W]; image k has every pixel of channel c equal to (k + 1) / 10 + c / 100.
torch::Tensor constant_images(int64_t n, int64_t channels, int64_t height, int64_t width) {
  auto x = torch::empty({n, channels, height, width});
  for (int64_t k = 0; k < n; ++k)
    for (int64_t c = 0; c < channels; ++c)
      x[k][c].fill_(static_cast<double>(k + 1) / 10 + static_cast<double>(c) / 100);
  return x;
}

// Checks a grid cell by cell: image k at row k / columns, column k % columns; all else padding.
void expect_layout(const torch::Tensor& grid, const torch::Tensor& images, int64_t columns, int64_t padding,
                   double pad_value) {
  const int64_t n = images.size(0), channels = images.size(1), h = images.size(2), w = images.size(3);
  const int64_t rows = (n + columns - 1) / columns;
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{channels, rows * (h + padding) + padding,
                                                columns * (w + padding) + padding}));
  auto covered = torch::zeros({grid.size(1), grid.size(2)}, torch::kBool);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t top = (k / columns) * (h + padding) + padding,
                  left = (k % columns) * (w + padding) + padding;
    EXPECT_TRUE(torch::equal(grid.narrow(1, top, h).narrow(2, left, w), images[k])) << "image " << k;
    covered.narrow(0, top, h).narrow(1, left, w).fill_(true);
  }
  const auto padding_pixels = grid.masked_select(covered.logical_not().expand_as(grid));
  EXPECT_EQ(padding_pixels.numel(), channels * (grid.size(1) * grid.size(2) - n * h * w));
  if (padding_pixels.numel() > 0) {
    EXPECT_TRUE(torch::all(padding_pixels == static_cast<float>(pad_value)).item<bool>());
  }
}

TEST(ImageGrid, PlacesImagesRowByRowWithPadding) {
  const auto images = constant_images(5, 1, 3, 4);
  GridOptions o;
  o.nrow = 3;
  o.padding = 2;
  o.pad_value = 1.0;
  const auto grid = make_grid(images, o);
  // 2 rows of 3 columns: (2 * (3 + 2) + 2) x (3 * (4 + 2) + 2); the sixth cell is padding.
  EXPECT_EQ(grid.sizes(), (std::vector<int64_t>{1, 12, 20}));
  expect_layout(grid, images, 3, 2, 1.0);
  // Spot checks by hand: image 0 starts at (2, 2), image 4 (row 1, column 1) at (7, 8).
  EXPECT_FLOAT_EQ(grid[0][2][2].item<float>(), 0.1f);
  EXPECT_FLOAT_EQ(grid[0][1][2].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(grid[0][7][8].item<float>(), 0.5f);
  EXPECT_FLOAT_EQ(grid[0][9][11].item<float>(), 0.5f);
  EXPECT_FLOAT_EQ(grid[0][9][12].item<float>(), 1.0f);
}

TEST(ImageGrid, ColourNoPaddingAndFewerImagesThanARow) {
  const auto images = constant_images(3, 3, 2, 2);
  GridOptions o;
  o.nrow = 8;  // only 3 images: one row of 3
  o.padding = 0;
  const auto grid = make_grid(images, o);
  EXPECT_EQ(grid.sizes(), (std::vector<int64_t>{3, 2, 6}));
  expect_layout(grid, images, 3, 0, 0.0);
  EXPECT_FLOAT_EQ(grid[2][1][5].item<float>(), 0.32f);  // image 2, channel 2
}

TEST(ImageGrid, FlattenedImagesTakeTheirShape) {
  const auto images = constant_images(4, 1, 3, 5);
  GridOptions o;
  o.nrow = 2;
  o.padding = 1;
  o.height = 3;
  o.width = 5;
  expect_layout(make_grid(images.reshape({4, 15}), o), images, 2, 1, 0.0);
  // Colour, flattened channel-first: D = 3 * H * W.
  const auto colour = constant_images(2, 3, 3, 5);
  expect_layout(make_grid(colour.reshape({2, 45}), o), colour, 2, 1, 0.0);
  // Square grey images need no shape; [N, H, W] is grey.
  const auto square = constant_images(3, 1, 4, 4);
  expect_layout(make_grid(square.reshape({3, 16}), GridOptions{}), square, 3, 2, 0.0);
  expect_layout(make_grid(square.reshape({3, 4, 4}), GridOptions{}), square, 3, 2, 0.0);
}

TEST(ImageGrid, ScaleRepeatsEachPixel) {
  auto image = torch::tensor({0.0f, 0.25f, 0.5f, 1.0f}).reshape({1, 1, 2, 2});
  GridOptions o;
  o.padding = 1;
  o.scale = 3;
  const auto grid = make_grid(image, o);
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{1, 8, 8}));
  const auto expected = image.repeat_interleave(3, 2).repeat_interleave(3, 3)[0];
  EXPECT_TRUE(torch::equal(grid.narrow(1, 1, 6).narrow(2, 1, 6), expected));
}

TEST(ImageGrid, NormalisesByRangeOrByData) {
  const auto images = torch::tensor({-1.0f, 0.0f, 1.0f, 3.0f}).reshape({2, 1, 1, 2});
  GridOptions o;
  o.padding = 0;
  o.value_range = std::make_pair(-1.0, 1.0);  // 3 clamps to 1
  auto grid = make_grid(images, o);
  EXPECT_TRUE(torch::allclose(grid, torch::tensor({0.0f, 0.5f, 1.0f, 1.0f}).reshape({1, 1, 4})));

  o.value_range.reset();
  o.normalize = true;  // global min -1, max 3
  grid = make_grid(images, o);
  EXPECT_TRUE(torch::allclose(grid, torch::tensor({0.0f, 0.25f, 0.5f, 1.0f}).reshape({1, 1, 4})));

  o.scale_each = true;  // image 0 over [-1, 0], image 1 over [1, 3]
  grid = make_grid(images, o);
  EXPECT_TRUE(torch::allclose(grid, torch::tensor({0.0f, 1.0f, 0.0f, 1.0f}).reshape({1, 1, 4})));

  // A constant image does not divide by zero.
  grid = make_grid(torch::full({1, 1, 2, 2}, 0.7), o);
  EXPECT_TRUE(torch::all(grid == 0).item<bool>());
}

TEST(ImageGrid, SaveImageWritesTheGridAsPng) {
  lvm::testing::TempDir dir;
  const auto images = constant_images(6, 1, 4, 4) / 2;  // values 0.05 .. 0.3
  GridOptions o;
  o.nrow = 3;
  o.pad_value = 1.0;
  save_image(images, dir.file("grid.png"), o);
  const auto png = read_png(dir.file("grid.png"));
  EXPECT_TRUE(torch::equal(png, to_uint8(make_grid(images, o))));
  EXPECT_EQ(png.sizes(), (std::vector<int64_t>{1, 14, 20}));
  EXPECT_EQ(png[0][0][0].item<int>(), 255);  // padding
  EXPECT_EQ(png[0][2][2].item<int>(), 13);   // 0.05 * 255 = 12.75
  EXPECT_EQ(png[0][8][14].item<int>(), 77);  // image 5: 0.3 * 255 = 76.5
}

TEST(ImageGrid, BadShapesAndOptionsAreClearErrors) {
  const auto expect_error = [](const torch::Tensor& x, const GridOptions& o, const std::string& what) {
    try {
      make_grid(x, o);
      ADD_FAILURE() << "expected an error containing '" << what << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_error(torch::zeros({0, 1, 2, 2}), {}, "batch of 0");
  expect_error(torch::zeros({2, 2, 3, 3}), {}, "C = 1 or 3");
  expect_error(torch::zeros({2, 10}), {}, "not square");
  GridOptions shaped;
  shaped.height = 2;
  shaped.width = 3;
  expect_error(torch::zeros({2, 10}), shaped, "neither 2x3 grey nor 2x3 colour");
  shaped.width = 0;
  expect_error(torch::zeros({2, 6}), shaped, "give both height and width");
  GridOptions bad;
  bad.nrow = 0;
  expect_error(torch::zeros({1, 1, 2, 2}), bad, "nrow must be >= 1");
  bad = {};
  bad.padding = -1;
  expect_error(torch::zeros({1, 1, 2, 2}), bad, "padding must be >= 0");
  bad = {};
  bad.value_range = std::make_pair(1.0, 1.0);
  expect_error(torch::zeros({1, 1, 2, 2}), bad, "low < high");
  expect_error(torch::zeros({5}), {}, "expected images");
}

}  // namespace
}  // namespace lvm::io
