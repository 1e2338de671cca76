#pragma once
// A folder of PNG images as a data set (data.dataset: images). Two layouts:
//   DIR/*.png              one class: every label 0
//   DIR/CLASS/*.png        one folder per class: labels 0, 1, ... in the folders' name order
// Files are taken in name order; other files are ignored. Every image must be grey (a PNG of one
// channel, or grey + an opaque alpha channel) and of one size.

#include <string>
#include <vector>

#include <torch/types.h>

namespace lvm::data {

struct ImageFolder {
  torch::Tensor images;                  // uint8 [N, H, W]
  torch::Tensor labels;                  // int64 [N], grouped by class in label order
  std::vector<std::string> class_names;  // empty for the one-class layout
};

/// Reads `dir`; throws DataError naming the folder or file: no PNG files, files beside class
/// folders, an unreadable PNG, a colour or translucent image, a size that differs from the first.
ImageFolder read_image_folder(const std::string& dir);

}  // namespace lvm::data
