#include "lvm/train/snapshots.h"

#include <filesystem>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/io/image_grid.h"
#include "lvm/represent/encoding.h"
#include "lvm/runtime/rng_fork.h"

namespace fs = std::filesystem;

namespace lvm::train {

int64_t display_scale(int64_t height, int64_t width) {
  return std::max<int64_t>(1, 28 / std::max(height, width));
}

torch::Tensor interleave_rows(const torch::Tensor& top, const torch::Tensor& bottom, int64_t columns) {
  TORCH_CHECK(top.sizes() == bottom.sizes(), "interleave_rows: expected equal shapes, got ", top.sizes(),
              " and ", bottom.sizes());
  TORCH_CHECK(columns >= 1, "interleave_rows: columns must be >= 1, got ", columns);
  std::vector<torch::Tensor> rows;
  for (int64_t start = 0; start < top.size(0); start += columns) {
    const int64_t n = std::min(columns, top.size(0) - start);
    rows.push_back(top.narrow(0, start, n));
    rows.push_back(bottom.narrow(0, start, n));
  }
  return torch::cat(rows);
}

TrainingSnapshots::TrainingSnapshots(const config::ExperimentConfig& config,
                                     const data::ImageDataset& dataset, std::string run_dir)
    : every_(config.output.image_every),
      epochs_(config.train.epochs),
      height_(dataset.height),
      width_(dataset.width),
      run_dir_(std::move(run_dir)) {
  if (every_ <= 0) return;
  const data::Split* source = nullptr;
  for (const data::Split* split : {&dataset.test, &dataset.train}) {
    if (split->images.defined() && split->size() > 0) {
      source = split;
      break;
    }
  }
  if (source == nullptr) return;  // no images: samples only
  // The whole split is binarised (once) so the pixels match `lvm sample --reconstruct`.
  const auto shown = represent::model_view(source->images, dataset.binarization);
  test_images_ = shown.slice(0, 0, std::min<int64_t>(kReconstructions, shown.size(0)));
}

bool TrainingSnapshots::due(int64_t epoch) const {
  return every_ > 0 && (epoch % every_ == 0 || epoch == epochs_);
}

void TrainingSnapshots::after_epoch(LatentVariableModel& model, int64_t epoch) {
  if (!due(epoch)) return;
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto parameters = model.parameters();
  const torch::Device device = parameters.empty() ? torch::Device(torch::kCPU) : parameters.front().device();

  torch::Tensor samples;
  {
    runtime::ForkedRng fork(kSnapshotNoiseSeed, device);
    samples = model.likelihood(model.prior()->sample({kSamples}))->mean();
  }
  // Models without a proposal q(z|x) have nothing to reconstruct with.
  torch::Tensor reconstructions;
  if (test_images_.defined()) {
    const auto proposal = model.proposal(test_images_);
    if (proposal != nullptr) reconstructions = model.likelihood(proposal->mean())->mean();
  }
  model.train(was_training);

  const fs::path dir = fs::path(run_dir_) / "images";
  fs::create_directories(dir);
  io::GridOptions grid;
  grid.nrow = kColumns;
  grid.height = height_;
  grid.width = width_;
  grid.scale = display_scale(height_, width_);
  io::save_image(samples, (dir / fmt::format("samples_epoch{:04d}.png", epoch)).string(), grid);
  if (reconstructions.defined()) {
    io::save_image(interleave_rows(test_images_, reconstructions, kColumns),
                   (dir / fmt::format("reconstructions_epoch{:04d}.png", epoch)).string(), grid);
  }
}

}  // namespace lvm::train
