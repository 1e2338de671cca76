#pragma once
// Pictures of a model while it trains, written into the run directory every
// output.image_every epochs (and after the last epoch):
//   images/samples_epoch0005.png          64 draws from the prior, decoded to p(x|z)'s mean;
//                                         the same noise every epoch, so grids compare
//   images/reconstructions_epoch0005.png  test images (rows 1, 3, ...) above the means of
//                                         p(x|z) at their posterior means (rows 2, 4, ...)
// Drawing them leaves the training random stream untouched (resumed runs stay bit-identical).

#include <cstdint>
#include <string>

#include <torch/types.h>

#include "lvm/config/config.h"
#include "lvm/data/dataset.h"
#include "lvm/models/latent_variable_model.h"

namespace lvm::train {

/// Seed of the prior noise behind every samples_epoch*.png (the same for every run, so runs of
/// one latent size start from the same codes).
constexpr uint64_t kSnapshotNoiseSeed = 20160020;

class TrainingSnapshots {
 public:
  static constexpr int64_t kSamples = 64;
  static constexpr int64_t kReconstructions = 16;  // images shown with their reconstruction
  static constexpr int64_t kColumns = 8;

  TrainingSnapshots(const config::ExperimentConfig& config, const data::ImageDataset& dataset,
                    std::string run_dir);

  /// Called after epoch `epoch` (1-based); writes the pictures when that epoch is due.
  void after_epoch(LatentVariableModel& model, int64_t epoch);

  /// Whether `epoch` gets pictures: a multiple of image_every, or the last (image_every 0: never).
  bool due(int64_t epoch) const;

 private:
  int64_t every_, epochs_, height_, width_;
  std::string run_dir_;
  torch::Tensor test_images_;  // [kReconstructions, D] as the model sees them
};

/// Pixel scale for showing h x w images: small ones (the 8x8 test data) are blown up so that a
/// picture of them can be seen at all; 28x28 MNIST stays 1.
int64_t display_scale(int64_t height, int64_t width);

/// Interleaves rows of `columns` images of `top` with the matching rows of `bottom`:
/// [N, D], [N, D] -> [2N, D] with rows top[0:c], bottom[0:c], top[c:2c], bottom[c:2c], ...
torch::Tensor interleave_rows(const torch::Tensor& top, const torch::Tensor& bottom, int64_t columns);

}  // namespace lvm::train
