#include "lvm/data/dataset.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "lvm/data/idx.h"
#include "lvm/data/image_folder.h"
#include "lvm/data/npy.h"

namespace lvm::data {
namespace {

namespace fs = std::filesystem;

at::Generator cpu_generator(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

// IDX dtype names, so that messages use the file format's vocabulary.
std::string dtype_name(torch::ScalarType type) {
  switch (type) {
    case torch::kUInt8:
      return "uint8";
    case torch::kInt8:
      return "int8";
    case torch::kInt16:
      return "int16";
    case torch::kInt32:
      return "int32";
    case torch::kInt64:
      return "int64";
    case torch::kFloat32:
      return "float32";
    case torch::kFloat64:
      return "float64";
    default:
      return c10::toString(type);
  }
}

// e.g. "uint8 [60000, 28, 28]"
std::string describe(const torch::Tensor& t) {
  std::string out = dtype_name(t.scalar_type());
  out += " [";
  for (int64_t i = 0; i < t.dim(); ++i) out += (i ? ", " : "") + std::to_string(t.size(i));
  return out + "]";
}

// `dir`/`name`, or `dir`/`name`.gz when only that exists.
std::string locate(const std::string& dir, const std::string& name, const config::DataConfig& config) {
  std::error_code ec;
  const fs::path plain = fs::path(dir) / name;
  if (fs::exists(plain, ec)) return plain.string();
  const fs::path gz = fs::path(dir) / (name + ".gz");
  if (fs::exists(gz, ec)) return gz.string();
  std::string hint = config.dataset == "fashion_mnist"
                         ? "install Debian's dataset-fashion-mnist package and point data.path at its files"
                         : "run scripts/get_mnist.sh " + dir + " to download MNIST";
  if (!fs::is_directory(dir, ec))
    throw DataError(dir + (fs::exists(dir, ec) ? ": is not a directory" : ": data directory does not exist") +
                    " (expected " + name + " or " + name + ".gz in it); " + hint);
  throw DataError(dir + ": missing " + name + " (or " + name + ".gz); " + hint);
}

// Reads one images/labels pair and checks their types, shapes and agreement.
void read_pair(const std::string& images_path, const std::string& labels_path, torch::Tensor& images,
               torch::Tensor& labels) {
  images = read_idx(images_path);
  if (images.scalar_type() != torch::kUInt8 || images.dim() != 3)
    throw DataError(images_path + ": expected uint8 images [N, H, W], got " + describe(images));
  labels = read_idx(labels_path);
  if (labels.scalar_type() != torch::kUInt8 || labels.dim() != 1)
    throw DataError(labels_path + ": expected uint8 labels [N], got " + describe(labels));
  if (images.size(0) != labels.size(0))
    throw DataError(images_path + " has " + std::to_string(images.size(0)) + " images but " + labels_path +
                    " has " + std::to_string(labels.size(0)) + " labels");
  // MNIST-style sets have ten classes.
  const int64_t max_label = labels.max().item<int64_t>();
  if (max_label > 9) {
    const int64_t index = (labels > 9).nonzero()[0][0].item<int64_t>();
    throw DataError(labels_path + ": label " + std::to_string(labels[index].item<int64_t>()) + " at index " +
                    std::to_string(index) + " is out of range (expected 0..9)");
  }
}

// uint8 [N, H, W] -> float32 [N, H, W] in [0, 1].
torch::Tensor to_unit_float(const torch::Tensor& images) { return images.to(torch::kFloat32).div_(255.0f); }

// images: float32 in [0, 1]
bool only_black_and_white(const torch::Tensor& images) {
  return images.numel() == 0 || ((images == 0) | (images == 1)).all().item<bool>();
}

}  // namespace

Binarization parse_binarization(const std::string& name) {
  if (name == "none") return Binarization::kNone;
  if (name == "static") return Binarization::kStatic;
  if (name == "dynamic") return Binarization::kDynamic;
  throw DataError("data.binarize: unknown binarisation '" + name + "' (expected none, static or dynamic)");
}

namespace {

// Both splits of a data set as read, before validation, limits and binarisation: images float32
// [N, H, W] in [0, 1], labels int64 [N], and the files they came from (for messages).
struct ReadSplits {
  torch::Tensor train_x, train_y, test_x, test_y;
  std::string train_file, test_file;
};

ReadSplits read_idx_splits(const config::DataConfig& config) {
  const std::string& dir = config.path;
  // Locate all four first, so that a missing file is reported before any slow read.
  const std::string train_images_path = locate(dir, "train-images-idx3-ubyte", config);
  const std::string train_labels_path = locate(dir, "train-labels-idx1-ubyte", config);
  const std::string test_images_path = locate(dir, "t10k-images-idx3-ubyte", config);
  const std::string test_labels_path = locate(dir, "t10k-labels-idx1-ubyte", config);
  torch::Tensor train_images, train_labels, test_images, test_labels;
  read_pair(train_images_path, train_labels_path, train_images, train_labels);
  read_pair(test_images_path, test_labels_path, test_images, test_labels);
  return {to_unit_float(train_images), train_labels.to(torch::kInt64),
          to_unit_float(test_images),  test_labels.to(torch::kInt64),
          train_images_path,           test_images_path};
}

// One .npy image array as float32 [N, H, W] in [0, 1]: uint8 grey levels 0..255, or floats in
// [0, 1]; [N, H, W], [N, 1, H, W] or [N, H, W, 1].
torch::Tensor read_npy_images(const std::string& path) {
  torch::Tensor a = read_npy(path);
  if (a.dim() == 4 && (a.size(1) == 1 || a.size(3) == 1)) a = a.squeeze(a.size(1) == 1 ? 1 : 3);
  if (a.dim() != 3) {
    throw DataError(path + ": expected grey images [N, H, W] (or [N, 1, H, W], [N, H, W, 1]), got " +
                    describe(a) +
                    (a.dim() == 4 ? " (colour images are not read yet: convert them to grey levels)" : ""));
  }
  if (a.size(0) == 0 || a.size(1) == 0 || a.size(2) == 0)
    throw DataError(path + ": holds no images: " + describe(a));
  if (a.scalar_type() == torch::kUInt8) return to_unit_float(a);
  if (a.scalar_type() != torch::kFloat32 && a.scalar_type() != torch::kFloat64)
    throw DataError(path + ": expected uint8 grey levels or float32 / float64 in [0, 1], got " + describe(a));
  const auto outside = ~((a >= 0) & (a <= 1));  // NaN is outside too
  if (outside.any().item<bool>()) {
    const int64_t flat = outside.reshape(-1).nonzero()[0][0].item<int64_t>();
    const int64_t per_image = a.size(1) * a.size(2);
    throw DataError(path + ": value " + std::to_string(a.reshape(-1)[flat].item<double>()) + " of image " +
                    std::to_string(flat / per_image) +
                    " is outside [0, 1] (float images hold grey levels in [0, 1])");
  }
  return a.to(torch::kFloat32);
}

// Labels for `n` images from a .npy of integers [N], or zeros when `path` is empty.
torch::Tensor read_npy_labels(const std::string& path, int64_t n, const std::string& images_path) {
  if (path.empty()) return torch::zeros({n}, torch::kInt64);
  const torch::Tensor labels = read_npy(path);
  if (labels.dim() != 1 || !c10::isIntegralType(labels.scalar_type(), /*includeBool=*/false))
    throw DataError(path + ": expected integer labels [N], got " + describe(labels));
  if (labels.size(0) != n)
    throw DataError(images_path + " has " + std::to_string(n) + " images but " + path + " has " +
                    std::to_string(labels.size(0)) + " labels");
  if (n > 0 && labels.min().item<int64_t>() < 0) {
    const int64_t index = (labels < 0).nonzero()[0][0].item<int64_t>();
    throw DataError(path + ": label " + std::to_string(labels[index].item<int64_t>()) + " at index " +
                    std::to_string(index) + " is negative");
  }
  return labels.to(torch::kInt64);
}

// data.path (and data.labels) for training; data.test_path (and data.test_labels) for the test
// set, or without it the last data.test_fraction of data.path's images.
ReadSplits read_npy_splits(const config::DataConfig& config) {
  ReadSplits read;
  read.train_file = config.path;
  read.train_x = read_npy_images(config.path);
  read.train_y = read_npy_labels(config.labels, read.train_x.size(0), config.path);
  if (!config.test_path.empty()) {
    read.test_file = config.test_path;
    read.test_x = read_npy_images(config.test_path);
    read.test_y = read_npy_labels(config.test_labels, read.test_x.size(0), config.test_path);
    return read;
  }
  if (!config.test_labels.empty())
    throw DataError(config.test_labels + ": data.test_labels without data.test_path (the test images' file)");
  const int64_t n = read.train_x.size(0);
  const auto n_test = static_cast<int64_t>(std::llround(config.test_fraction * static_cast<double>(n)));
  if (n_test < 1 || n_test >= n)
    throw DataError(config.path + ": data.test_fraction " + std::to_string(config.test_fraction) + " of " +
                    std::to_string(n) + " images leaves " + std::to_string(n_test) +
                    " test images; set a fraction that keeps both splits non-empty, or data.test_path");
  read.test_file = config.path + " (its last " + std::to_string(n_test) + " images)";
  read.test_x = read.train_x.narrow(0, n - n_test, n_test);
  read.test_y = read.train_y.narrow(0, n - n_test, n_test);
  read.train_x = read.train_x.narrow(0, 0, n - n_test);
  read.train_y = read.train_y.narrow(0, 0, n - n_test);
  return read;
}

// data.path's PNG folder for training; data.test_path's for the test set, or without it the last
// data.test_fraction of each class folder's images (so that every class is in both splits).
ReadSplits read_image_folder_splits(const config::DataConfig& config) {
  for (const auto& [key, value] :
       {std::pair{"data.labels", &config.labels}, {"data.test_labels", &config.test_labels}}) {
    if (!value->empty())
      throw DataError(std::string(key) + " " + *value +
                      ": data.dataset: images takes its labels from the class folders (DIR/CLASS/*.png)");
  }
  const ImageFolder train = read_image_folder(config.path);
  ReadSplits read;
  read.train_file = config.path;
  if (!config.test_path.empty()) {
    const ImageFolder test = read_image_folder(config.test_path);
    read.train_x = to_unit_float(train.images);
    read.train_y = train.labels;
    read.test_x = to_unit_float(test.images);
    read.test_y = test.labels;
    read.test_file = config.test_path;
    return read;
  }
  std::vector<torch::Tensor> fit_x, fit_y, test_x, test_y;
  const int64_t classes = train.labels.max().item<int64_t>() + 1;
  for (int64_t c = 0; c < classes; ++c) {
    const auto index = (train.labels == c).nonzero().squeeze(1);
    const int64_t n = index.size(0);
    const auto n_test = static_cast<int64_t>(std::llround(config.test_fraction * static_cast<double>(n)));
    if (n_test < 1 || n_test >= n) {
      const std::string where =
          train.class_names.empty() ? config.path : config.path + "/" + train.class_names[c];
      throw DataError(where + ": data.test_fraction " + std::to_string(config.test_fraction) + " of its " +
                      std::to_string(n) + " images leaves " + std::to_string(n_test) +
                      " test images; set a fraction that keeps both splits non-empty, or data.test_path");
    }
    fit_x.push_back(train.images.index_select(0, index.narrow(0, 0, n - n_test)));
    test_x.push_back(train.images.index_select(0, index.narrow(0, n - n_test, n_test)));
    fit_y.push_back(torch::full({n - n_test}, c, torch::kInt64));
    test_y.push_back(torch::full({n_test}, c, torch::kInt64));
  }
  read.train_x = to_unit_float(torch::cat(fit_x));
  read.train_y = torch::cat(fit_y);
  read.test_x = to_unit_float(torch::cat(test_x));
  read.test_y = torch::cat(test_y);
  read.test_file = config.path + " (the last " + std::to_string(config.test_fraction) + " of each class)";
  return read;
}

ImageDataset split_and_binarize(const ReadSplits& read, const config::DataConfig& config,
                                torch::Device device, int64_t seed) {
  const Binarization binarization = parse_binarization(config.binarize);
  if (read.train_x.size(1) != read.test_x.size(1) || read.train_x.size(2) != read.test_x.size(2))
    throw DataError(read.test_file + ": images are " + std::to_string(read.test_x.size(1)) + "x" +
                    std::to_string(read.test_x.size(2)) + " but " + read.train_file + " has " +
                    std::to_string(read.train_x.size(1)) + "x" + std::to_string(read.train_x.size(2)));
  const int64_t n_train = read.train_x.size(0);
  if (config.validation_size < 0 || config.validation_size >= n_train)
    throw DataError(config.path + ": data.validation_size " + std::to_string(config.validation_size) +
                    " must be in 0.." + std::to_string(n_train - 1) + " (" + read.train_file + " has " +
                    std::to_string(n_train) + " images)");
  if (config.train_limit < 0 || config.test_limit < 0)
    throw DataError(config.path + ": data.train_limit and data.test_limit must be >= 0 (0: all)");

  ImageDataset dataset;
  dataset.height = read.train_x.size(1);
  dataset.width = read.train_x.size(2);
  dataset.binarization = binarization;

  // Static binarisation is drawn over the full files, on CPU, before any split or limit, so an
  // image's binary version depends only on the seed (not on limits, validation_size or device).
  torch::Tensor train_x = read.train_x.reshape({n_train, -1});
  torch::Tensor test_x = read.test_x.reshape({read.test_x.size(0), -1});
  if (binarization == Binarization::kStatic) {
    at::Generator generator = cpu_generator(static_cast<uint64_t>(seed));
    train_x = torch::bernoulli(train_x, generator);
    test_x = torch::bernoulli(test_x, generator);
  }

  // Validation is the tail of the training file; train_limit applies to what is left.
  const int64_t n_rest = n_train - config.validation_size;
  const int64_t n_fit = config.train_limit > 0 ? std::min(config.train_limit, n_rest) : n_rest;
  const int64_t n_test = config.test_limit > 0 ? std::min(config.test_limit, test_x.size(0)) : test_x.size(0);

  auto split = [&](const torch::Tensor& x, const torch::Tensor& y, int64_t start, int64_t length) {
    // Always a copy, so a truncated split does not keep the whole file alive through a view.
    const auto options = torch::TensorOptions().device(device);
    return Split{x.narrow(0, start, length).to(options, /*non_blocking=*/false, /*copy=*/true),
                 y.narrow(0, start, length).to(options, /*non_blocking=*/false, /*copy=*/true)};
  };
  dataset.train = split(train_x, read.train_y, 0, n_fit);
  dataset.validation = split(train_x, read.train_y, n_rest, config.validation_size);
  dataset.test = split(test_x, read.test_y, 0, n_test);

  if (binarization == Binarization::kNone) {
    // Grey files that hold only black and white are binary already (over the images actually used).
    dataset.binary = only_black_and_white(train_x.narrow(0, 0, n_fit)) &&
                     only_black_and_white(train_x.narrow(0, n_rest, config.validation_size)) &&
                     only_black_and_white(test_x.narrow(0, 0, n_test));
  } else {
    dataset.binary = true;
  }
  return dataset;
}

}  // namespace

ImageDataset load_image_dataset(const config::DataConfig& config, torch::Device device, int64_t seed) {
  parse_binarization(config.binarize);  // an unknown name before any slow read
  const ReadSplits read = config.dataset == "npy"      ? read_npy_splits(config)
                          : config.dataset == "images" ? read_image_folder_splits(config)
                                                       : read_idx_splits(config);
  return split_and_binarize(read, config, device, seed);
}

torch::Tensor prepare_batch(const torch::Tensor& images, Binarization binarization,
                            c10::optional<at::Generator> generator) {
  if (binarization != Binarization::kDynamic) return images;
  if (generator.has_value() && generator->device() != images.device()) {
    // A generator draws only on its own device: draw there, then move the result back.
    return torch::bernoulli(images.to(generator->device()), generator).to(images.device());
  }
  return torch::bernoulli(images, generator);
}

torch::Tensor fixed_binarization(const torch::Tensor& images, Binarization binarization, int64_t seed) {
  if (binarization != Binarization::kDynamic) return images;
  // Drawn on CPU so the result is the same whichever device the images live on.
  at::Generator generator = cpu_generator(static_cast<uint64_t>(seed));
  return torch::bernoulli(images.to(torch::kCPU), generator).to(images.device());
}

std::vector<torch::Tensor> epoch_batches(int64_t n, int64_t batch_size, int64_t seed, int64_t epoch,
                                         bool shuffle, torch::Device device) {
  if (n < 0) throw std::invalid_argument("epoch_batches: n must be >= 0, got " + std::to_string(n));
  if (batch_size < 1)
    throw std::invalid_argument("epoch_batches: batch_size must be >= 1, got " + std::to_string(batch_size));
  std::vector<torch::Tensor> batches;
  if (n == 0) return batches;
  torch::Tensor order;
  if (shuffle) {
    // Unsigned arithmetic: the mix may wrap, which is fine for a seed and not undefined.
    const uint64_t mixed = static_cast<uint64_t>(seed) * 1000003u + static_cast<uint64_t>(epoch);
    at::Generator generator = cpu_generator(mixed);
    order = torch::randperm(n, generator, torch::TensorOptions().dtype(torch::kInt64));
  } else {
    order = torch::arange(n, torch::TensorOptions().dtype(torch::kInt64));
  }
  order = order.to(device);
  batches.reserve(static_cast<size_t>((n + batch_size - 1) / batch_size));
  for (int64_t start = 0; start < n; start += batch_size)
    batches.push_back(order.narrow(0, start, std::min(batch_size, n - start)));
  return batches;
}

}  // namespace lvm::data
