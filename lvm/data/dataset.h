#pragma once
// MNIST-style image data sets held in memory on the target device, with train / validation /
// test splits, binarisation and shuffled batching.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "lvm/config/config.h"

namespace lvm::data {

/// One split: images flattened to [N, D] float32 in [0, 1] and labels [N] int64, both on the
/// data set's device.
struct Split {
  torch::Tensor images;
  torch::Tensor labels;
  int64_t size() const { return images.size(0); }
};

/// Binarisation of grey levels (see DataConfig::binarize).
///  - none:    grey levels as they are
///  - static:  one Bernoulli draw per image, seeded, made once when the data set is loaded
///  - dynamic: a fresh Bernoulli draw every time a batch is used (the standard for likelihoods)
enum class Binarization { kNone, kStatic, kDynamic };
Binarization parse_binarization(const std::string& name);

struct ImageDataset {
  Split train, validation, test;
  int64_t height = 0, width = 0;  // D = height * width
  Binarization binarization = Binarization::kNone;
  int64_t dim() const { return height * width; }
  /// Whether images handed to a model are in {0, 1} (static or dynamic binarisation, or grey
  /// files that happen to hold only 0 and 255).
  bool binary = false;
};

/// The four files of an MNIST-style set in `dir`: train-images-idx3-ubyte, train-labels-idx1-ubyte,
/// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or with a .gz suffix. Fashion-MNIST
/// from Debian's dataset-fashion-mnist uses the same names, gzip-compressed.
/// Validates what read_idx validates plus: images are uint8 [N, H, W], labels uint8 [N],
/// counts agree, train and test share H and W, validation_size < number of training images.
/// The validation split is the last `validation_size` training images (before train_limit is
/// applied to the rest). Static binarisation uses `seed`. Throws DataError naming the file.
ImageDataset load_image_dataset(const config::DataConfig& config, torch::Device device, int64_t seed);

/// Applies the per-use part of binarisation to a batch [B, D]: a Bernoulli draw under dynamic
/// binarisation (from `generator` if given, else the global generator), the batch unchanged
/// otherwise.
torch::Tensor prepare_batch(const torch::Tensor& images, Binarization binarization,
                            c10::optional<at::Generator> generator = c10::nullopt);

/// Seeds for the fixed binarisation of evaluation splits, shared by the trainer and `lvm eval`:
/// independent of the training seed, so every run of every config is scored on the same binary
/// images.
constexpr int64_t kTrainBinarizationSeed = 20160000;
constexpr int64_t kValidationBinarizationSeed = 20160001;
constexpr int64_t kTestBinarizationSeed = 20160002;

/// A test set binarised once with a fixed seed, so that two evaluations see the same binary
/// images; returns `images` unchanged unless binarization is dynamic.
torch::Tensor fixed_binarization(const torch::Tensor& images, Binarization binarization, int64_t seed);

/// Index batches over n examples for one epoch: a permutation drawn from a generator seeded by
/// (seed, epoch), so epoch e has the same order whether or not the run was resumed; the last
/// batch may be smaller. Indices live on `device`.
std::vector<torch::Tensor> epoch_batches(int64_t n, int64_t batch_size, int64_t seed, int64_t epoch,
                                         bool shuffle, torch::Device device);

}  // namespace lvm::data
