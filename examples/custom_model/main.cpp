// custom_model CONFIG RUN_DIR [--set KEY=VALUE ...] [--k K] [--overwrite]
// Registers custom_vae (custom_vae.h), trains it from CONFIG into RUN_DIR with lvm's trainer,
// loads the best checkpoint back, estimates its test log-likelihood by importance sampling with K
// samples per image (lvm's estimators), exports it to RUN_DIR/custom_vae.pt (TorchScript, checked
// method by method against the model before it is written), and prints one JSON line.

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include <lvm/config/config.h>
#include <lvm/data/dataset.h>
#include <lvm/estimators/estimators.h>
#include <lvm/export/torchscript.h>
#include <lvm/models/registry.h>
#include <lvm/train/run_dir.h>
#include <lvm/train/trainer.h>

#include "custom_vae.h"

namespace {

struct Args {
  std::string config_path, run_dir;
  std::vector<std::string> overrides;
  int64_t k = 100;
  bool overwrite = false;  // replace a run RUN_DIR already holds
};

Args parse_args(int argc, char** argv) {
  Args args;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--set" || arg == "--k") && i + 1 >= argc)
      throw std::invalid_argument(arg + " needs a value");
    if (arg == "--overwrite") {
      args.overwrite = true;
    } else if (arg == "--set") {
      args.overrides.push_back(argv[++i]);
    } else if (arg == "--k") {
      args.k = std::stoll(argv[++i]);
      if (args.k < 1) throw std::invalid_argument("--k must be at least 1");
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) {
    throw std::invalid_argument(
        "usage: custom_model CONFIG RUN_DIR [--set KEY=VALUE ...] [--k K] [--overwrite]");
  }
  args.config_path = positional[0];
  args.run_dir = positional[1];
  return args;
}

// Mean log p(x) estimate over the test split, 100 images at a time.
lvm::estimators::Summary test_log_likelihood(const lvm::train::LoadedRun& run, int64_t k) {
  const auto dataset = lvm::data::load_image_dataset(run.config.data, torch::kCPU, run.config.train.seed);
  const auto images = lvm::data::fixed_binarization(dataset.test.images, dataset.binarization,
                                                    lvm::data::kTestBinarizationSeed);
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  std::vector<torch::Tensor> values;
  for (int64_t start = 0; start < images.size(0); start += 100) {
    const auto batch = images.slice(0, start, std::min<int64_t>(start + 100, images.size(0)));
    values.push_back(
        lvm::estimators::importance_sampling(*run.model, batch, lvm::estimators::SamplingOptions(k, 100))
            .log_px);
  }
  return lvm::estimators::summarize(torch::cat(values));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse_args(argc, argv);
    lvm::register_model(custom::custom_vae_spec());  // before any config that names it is read

    lvm::train::TrainRequest request;
    request.config = lvm::config::load_config(args.config_path, args.overrides);
    request.run_dir = args.run_dir;
    request.overwrite = args.overwrite;
    std::string trained = lvm::train::run_training(request).dump(0);
    trained.pop_back();  // dump ends the line

    const auto run = lvm::train::load_run(args.run_dir, "best");
    const auto test = test_log_likelihood(run, args.k);
    const std::string export_path = args.run_dir + "/custom_vae.pt";
    const auto exported = lvm::torchscript::export_run(args.run_dir, "best", export_path);
    std::cout << fmt::format(
        "{{\"model\": \"{}\", \"train\": {}, \"test_iwae_k\": {}, \"test_log_likelihood\": {:.4f}, "
        "\"std_error\": {:.4f}, \"n\": {}, \"export\": \"{}\", \"exported_methods\": {}}}\n",
        run.model->kind(), trained, args.k, test.mean, test.std_error, test.n, export_path,
        exported.methods.size());
    return EXIT_SUCCESS;
  } catch (const std::exception& e) {
    std::cerr << "custom_model: " << e.what() << '\n';
    return EXIT_FAILURE;
  }
}
