// lvm sample RUN_DIR [MODE] [-o FILE.png]: pictures of a trained model, one mode at a time.
//   (no mode)          samples from the prior: the means of p(x|z), or draws with --binary
//   --reconstruct      images above their reconstructions
//   --interpolate A B  decoded points on a path between the posterior means of images A and B
//   --traverse         each latent dimension swept around a code, one row each, ordered by KL
//   --manifold         decoded grid over the prior's quantiles (2-D latent space only)
//   --latents          posterior means as a scatter plot coloured by label
// A model of vectors (a Gaussian mixture's run) has one mode, its draws: a scatter plot coloured by
// component (2-D data, or the first two principal components of the draws), or with -o FILE.csv
// the points themselves.

#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <torch/torch.h>

#include "apps/commands.h"
#include "apps/run_inputs.h"
#include "lvm/io/image_grid.h"
#include "lvm/io/png.h"
#include "lvm/io/scatter_plot.h"
#include "lvm/represent/encoding.h"
#include "lvm/represent/pictures.h"
#include "lvm/runtime/runtime.h"
#include "lvm/train/run_dir.h"
#include "lvm/train/snapshots.h"
#include "lvm/util/files.h"

namespace lvm::app {

namespace {

struct SampleArgs {
  std::string run_dir;
  std::string checkpoint = "best";
  std::string output;
  std::string device = "auto";
  std::string data_path;
  std::string split = "test";
  int64_t n = 0;      // 0: the mode's default
  int64_t nrow = 0;   // 0: the mode's default
  int64_t steps = 0;  // 0: the mode's default
  int64_t padding = 2;
  double pad_value = 0.0;
  int64_t scale = 0;  // 0: automatic (small images are enlarged)
  int64_t seed = 0;
  bool binary = false;
  bool reconstruct = false;
  std::vector<int64_t> interpolate;
  bool spherical = false;
  bool traverse = false;
  int64_t index = 0;
  double range = 3.0;
  int64_t dims = 0;
  int64_t kl_images = 1000;
  bool manifold = false;
  bool latents = false;
  int64_t size = 640;
  int64_t limit = 0;
  bool no_axes = false;
};

enum class Mode { kSamples, kReconstruct, kInterpolate, kTraverse, kManifold, kLatents };

const char* default_file(Mode mode) {
  switch (mode) {
    case Mode::kSamples:
      return "samples.png";
    case Mode::kReconstruct:
      return "reconstructions.png";
    case Mode::kInterpolate:
      return "interpolation.png";
    case Mode::kTraverse:
      return "traversal.png";
    case Mode::kManifold:
      return "manifold.png";
    case Mode::kLatents:
      return "latents.png";
  }
  return "samples.png";
}

// Checks that at most one mode was given and which options go with it.
Mode select_mode(const SampleArgs& a, const CLI::App& cmd) {
  std::vector<std::pair<std::string, Mode>> given;
  if (a.reconstruct) given.emplace_back("--reconstruct", Mode::kReconstruct);
  if (!a.interpolate.empty()) given.emplace_back("--interpolate", Mode::kInterpolate);
  if (a.traverse) given.emplace_back("--traverse", Mode::kTraverse);
  if (a.manifold) given.emplace_back("--manifold", Mode::kManifold);
  if (a.latents) given.emplace_back("--latents", Mode::kLatents);
  if (given.size() > 1) {
    throw UsageError(fmt::format("{} and {}: give one mode at a time", given[0].first, given[1].first));
  }
  const Mode mode = given.empty() ? Mode::kSamples : given[0].second;
  const std::string mode_name = given.empty() ? "sampling from the prior" : given[0].first;

  // Options that only some modes read; giving them elsewhere is a mistake worth naming.
  const auto only_with = [&](const char* option, std::initializer_list<Mode> modes, const char* which) {
    if (cmd.count(option) == 0) return;
    for (Mode m : modes)
      if (m == mode) return;
    throw UsageError(fmt::format("{} only applies to {}, not to {}", option, which, mode_name));
  };
  only_with("--spherical", {Mode::kInterpolate}, "--interpolate");
  only_with("--steps", {Mode::kInterpolate, Mode::kTraverse, Mode::kManifold},
            "--interpolate, --traverse and --manifold");
  only_with("--n", {Mode::kSamples, Mode::kReconstruct}, "sampling and --reconstruct");
  only_with("--seed",
            {Mode::kSamples, Mode::kReconstruct, Mode::kInterpolate, Mode::kTraverse, Mode::kManifold},
            "modes that decode");
  only_with("--binary",
            {Mode::kSamples, Mode::kReconstruct, Mode::kInterpolate, Mode::kTraverse, Mode::kManifold},
            "modes that decode");
  only_with("--index", {Mode::kTraverse, Mode::kReconstruct}, "--traverse and --reconstruct");
  only_with("--range", {Mode::kTraverse}, "--traverse");
  only_with("--dims", {Mode::kTraverse}, "--traverse");
  only_with("--kl-images", {Mode::kTraverse}, "--traverse");
  only_with("--size", {Mode::kLatents}, "--latents");
  only_with("--limit", {Mode::kLatents}, "--latents");
  only_with("--no-axes", {Mode::kLatents}, "--latents");
  only_with("--split", {Mode::kReconstruct, Mode::kInterpolate, Mode::kTraverse, Mode::kLatents},
            "modes that use images");
  return mode;
}

// Everything a mode needs: the model, and the images when the mode uses them.
class Sampler {
 public:
  Sampler(const SampleArgs& args, Mode mode) : args_(args), mode_(mode) {
    runtime::configure_threads(0, 0);
    device_ = runtime::resolve_device(args.device);
    run_ = train::load_run(args.run_dir, args.checkpoint, device_);
    if (is_vector_run(run_)) {
      if (mode != Mode::kSamples) require_image_model(run_, args.run_dir, "sample with a mode");
      return;
    }
    if (mode != Mode::kSamples && mode != Mode::kManifold) {
      dataset_ = load_run_data(run_, args.data_path, device_);
      const auto& split = represent::split_by_name(*dataset_, args.split);
      images_ = represent::model_view(split.images, dataset_->binarization);
      labels_ = split.labels;
      height_ = dataset_->height;
      width_ = dataset_->width;
    } else {
      const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(run_.data_dim))));
      if (side * side == run_.data_dim) {
        height_ = width_ = side;
      } else {
        // Not square: only the data set knows the image shape.
        const auto dataset = load_run_data(run_, args.data_path, torch::kCPU);
        height_ = dataset.height;
        width_ = dataset.width;
      }
    }
  }

  torch::Tensor picture() {
    torch::NoGradGuard no_grad;
    torch::manual_seed(static_cast<uint64_t>(args_.seed));
    switch (mode_) {
      case Mode::kSamples:
        return samples();
      case Mode::kReconstruct:
        return reconstructions();
      case Mode::kInterpolate:
        return interpolation();
      case Mode::kTraverse:
        return traversal();
      case Mode::kManifold:
        return manifold();
      case Mode::kLatents:
        return latents();
    }
    return {};
  }
  const std::string& message() const { return message_; }
  bool vectors() const { return is_vector_run(run_); }

  /// A model of vectors: its draws as a scatter plot, or as CSV text.
  torch::Tensor point_plot() {
    const auto samples = draw_points();
    const bool projected = samples.points.size(1) > 2;
    if (samples.points.size(1) < 2)
      throw UsageError("a scatter plot needs 2-D points; these are 1-D: write them with -o FILE.csv");
    const auto xy = projected ? represent::principal_components(samples.points, 2) : samples.points;
    const bool discrete = samples.latent.dim() == 1;
    const auto labels = discrete ? samples.latent : torch::zeros({xy.size(0)}, torch::kLong);
    message_ += projected ? ", first two principal components" : "";
    return io::scatter_plot(xy, labels);
  }
  std::string point_csv() { return represent::points_csv(draw_points()); }

 private:
  LatentVariableModel& model() { return *run_.model; }

  represent::PointSamples draw_points() {
    torch::NoGradGuard no_grad;
    torch::manual_seed(static_cast<uint64_t>(args_.seed));
    const int64_t n = count_or(1000);
    message_ = fmt::format("{} draws from the model (coloured by the component each came from)", n);
    return represent::prior_points(model(), n);
  }

  int64_t count_or(int64_t fallback) const { return args_.n > 0 ? args_.n : fallback; }
  int64_t steps_or(int64_t fallback) const { return args_.steps > 0 ? args_.steps : fallback; }

  void check_index(const char* option, int64_t index) const {
    if (index < 0 || index >= images_.size(0)) {
      throw UsageError(fmt::format("{} {}: index out of range (the {} split has {} images: 0 to {})", option,
                                   index, args_.split, images_.size(0), images_.size(0) - 1));
    }
  }

  io::GridOptions grid(int64_t nrow) const {
    io::GridOptions o;
    o.nrow = args_.nrow > 0 ? args_.nrow : nrow;
    o.padding = args_.padding;
    o.pad_value = args_.pad_value;
    o.height = height_;
    o.width = width_;
    o.scale = args_.scale > 0 ? args_.scale : train::display_scale(height_, width_);
    return o;
  }

  torch::Tensor to_png_image(const torch::Tensor& images, int64_t nrow) {
    return io::to_uint8(io::make_grid(images, grid(nrow)));
  }

  torch::Tensor samples() {
    const int64_t n = count_or(64);
    const auto x = represent::prior_samples(model(), n, args_.binary);
    message_ = fmt::format("{} samples from the prior ({})", n,
                           args_.binary ? "draws from p(x|z)" : "means of p(x|z)");
    return to_png_image(x, static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n)))));
  }

  torch::Tensor reconstructions() {
    const int64_t n = count_or(32);
    check_index("--index", args_.index);
    if (args_.index + n > images_.size(0)) {
      throw UsageError(fmt::format("--n {}: only {} {} images from --index {}", n,
                                   images_.size(0) - args_.index, args_.split, args_.index));
    }
    const auto x = images_.narrow(0, args_.index, n);
    const auto columns = args_.nrow > 0 ? args_.nrow : 8;
    message_ = fmt::format("{} {} images (rows 1, 3, ...) above their reconstructions", n, args_.split);
    const auto decoded = represent::reconstructions(model(), x, args_.binary);
    return to_png_image(train::interleave_rows(x, decoded, columns), columns);
  }

  torch::Tensor interpolation() {
    const int64_t a = args_.interpolate[0], b = args_.interpolate[1];
    check_index("--interpolate", a);
    check_index("--interpolate", b);
    represent::InterpolationOptions options;
    options.steps = steps_or(10);
    options.spherical = args_.spherical;
    options.binary = args_.binary;
    if (options.steps < 2)
      throw UsageError(fmt::format("--steps {}: an interpolation needs at least 2", options.steps));
    const auto row = represent::interpolation(model(), images_[a], images_[b], options);
    message_ = fmt::format(
        "{} interpolation in {} steps between the codes of {} images {} and {} (shown at the ends)",
        args_.spherical ? "spherical" : "linear", options.steps, args_.split, a, b);
    return to_png_image(row, options.steps + 2);
  }

  torch::Tensor traversal() {
    check_index("--index", args_.index);
    represent::TraversalOptions options;
    options.steps = steps_or(11);
    options.range = args_.range;
    options.dims = args_.dims;
    options.kl_images = args_.kl_images;
    options.binary = args_.binary;
    if (options.steps < 2)
      throw UsageError(fmt::format("--steps {}: a traversal needs at least 2", options.steps));
    if (!(args_.range > 0)) throw UsageError(fmt::format("--range {}: must be > 0", args_.range));
    const auto t = represent::traversal(model(), images_, images_[args_.index], options);
    std::string listing;
    for (size_t r = 0; r < t.dims.size(); ++r) {
      listing +=
          fmt::format("{}z_{} (KL {:.3f})", r == 0 ? "" : ", ", t.dims[r], t.kl[t.dims[r]].item<double>());
    }
    message_ = fmt::format(
        "traversal of {} dimensions from -{}σ to +{}σ around the code of {} image {}, rows by KL over {} "
        "images: {}",
        t.dims.size(), args_.range, args_.range, args_.split, args_.index, t.kl_images, listing);
    return to_png_image(t.images, options.steps);
  }

  torch::Tensor manifold() {
    if (model().latent_dim() != 2) {
      throw UsageError(fmt::format("--manifold needs a 2-D latent space; this model has latent_dim {}",
                                   model().latent_dim()));
    }
    const int64_t steps = steps_or(20);
    if (steps < 2) throw UsageError(fmt::format("--steps {}: a manifold needs at least 2 per axis", steps));
    const auto x = represent::manifold(model(), steps, args_.binary);
    message_ = fmt::format("{}x{} grid over the prior's quantiles", steps, steps);
    return to_png_image(x, steps);
  }

  torch::Tensor latents() {
    if (model().latent_dim() < 2)
      throw UsageError("--latents needs a latent space of 2 or more dimensions; this model has 1");
    if (args_.limit < 0) throw UsageError(fmt::format("--limit {}: must be >= 0", args_.limit));
    const int64_t n = args_.limit > 0 ? std::min(args_.limit, images_.size(0)) : images_.size(0);
    const auto latent = represent::latent_points(model(), images_.narrow(0, 0, n), labels_.narrow(0, 0, n));
    io::ScatterOptions options;
    options.width = options.height = args_.size;
    options.axes = !args_.no_axes;
    message_ = fmt::format("posterior means of {} {} images, {}", n, args_.split,
                           latent.projected ? "first two principal components" : "z_0 across, z_1 up");
    return io::scatter_plot(latent.points, latent.labels, options);
  }

  const SampleArgs& args_;
  Mode mode_;
  torch::Device device_ = torch::kCPU;
  train::LoadedRun run_;
  std::optional<data::ImageDataset> dataset_;
  torch::Tensor images_, labels_;
  int64_t height_ = 0, width_ = 0;
  std::string message_;  // what the picture shows, for the user
};

}  // namespace

Command add_sample_command(CLI::App& app) {
  auto args = std::make_shared<SampleArgs>();
  auto* cmd = app.add_subcommand("sample",
                                 "Pictures of a trained model: samples, reconstructions, "
                                 "interpolations, traversals, the latent manifold or latent codes");
  cmd->footer(
      "Images are taken as the model sees them: binarised once with a fixed seed under dynamic binarisation "
      "(the same pixels every time), as stored otherwise. Decoded images are the means of p(x|z) unless "
      "--binary.");
  cmd->add_option("run_dir", args->run_dir, "Run directory written by lvm train")->required();
  cmd->add_option("-o,--output", args->output,
                  "PNG file to write (default RUN_DIR/<mode>.png); for a model of vectors, .png or .csv");
  cmd->add_option("--checkpoint", args->checkpoint, "best, last, or a path to a .pt file (default best)");
  cmd->add_option("--device", args->device, "auto, cpu, cuda or cuda:N (default auto)");
  cmd->add_option("--data-path,--data", args->data_path,
                  "Data directory (default: data.path of the run's config)");
  cmd->add_option("--split", args->split, "Images from train, validation or test (default test)");

  cmd->add_flag("--reconstruct", args->reconstruct, "Images (rows 1, 3, ...) above their reconstructions");
  cmd->add_option("--interpolate", args->interpolate, "Interpolate between the codes of images A and B")
      ->expected(2)
      ->type_name("INDEX");
  cmd->add_flag("--spherical", args->spherical, "With --interpolate: spherical instead of linear");
  cmd->add_flag("--traverse", args->traverse,
                "Sweep each latent dimension around a code, one row per dimension, by KL");
  cmd->add_flag("--manifold", args->manifold, "Decoded grid over the prior's quantiles (2-D latent only)");
  cmd->add_flag("--latents", args->latents, "Scatter plot of posterior means coloured by label");

  cmd->add_option("--n", args->n,
                  "Images: samples (default 64) or reconstructions (default 32); points: 1000")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--nrow", args->nrow, "Images per row of the grid (default: the mode's)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--steps", args->steps,
                  "Points on a path or axis (interpolate 10, traverse 11, manifold 20)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--padding", args->padding, "Pixels between images (default 2)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--pad-value", args->pad_value, "Grey level of the padding in [0, 1] (default 0)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--scale", args->scale,
                  "Pixel enlargement (default: 1, or more for images under 28 pixels)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->seed, "Seed of the random draws (default 0)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--binary", args->binary, "Draw x ~ p(x|z) (binary pixels) instead of showing its mean");
  cmd->add_option("--index", args->index,
                  "Image whose code --traverse sweeps, or first image for --reconstruct");
  cmd->add_option("--range", args->range,
                  "--traverse: sweep from -R to +R prior standard deviations (default 3)");
  cmd->add_option("--dims", args->dims, "--traverse: only the DIMS dimensions of highest KL (default all)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--kl-images", args->kl_images, "--traverse: images to average the KL over (default 1000)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--size", args->size, "--latents: plot width and height in pixels (default 640)")
      ->check(CLI::Range(int64_t{128}, int64_t{8192}));
  cmd->add_option("--limit", args->limit, "--latents: plot only the first N images (default all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-axes", args->no_axes, "--latents: no frame or zero lines");

  return {cmd, [args, cmd]() {
            const Mode mode = select_mode(*args, *cmd);
            const std::string output =
                args->output.empty() ? (std::filesystem::path(args->run_dir) / default_file(mode)).string()
                                     : args->output;
            if (!args->output.empty()) check_output_path("-o", output);
            Sampler sampler(*args, mode);
            if (args->output.empty()) check_output_path("-o", output);
            if (sampler.vectors() && std::filesystem::path(output).extension() == ".csv") {
              util::write_file_atomic(output, sampler.point_csv());
              std::cout << fmt::format("wrote {}: {}\n", output, sampler.message());
              return kExitOk;
            }
            const auto image = sampler.vectors() ? sampler.point_plot() : sampler.picture();
            io::write_png(output, image);
            std::cout << fmt::format("wrote {} ({}x{}): {}\n", output, image.size(2), image.size(1),
                                     sampler.message());
            return kExitOk;
          }};
}

}  // namespace lvm::app
