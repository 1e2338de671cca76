#include "lvm/train/run_dir.h"

#include <filesystem>
#include <stdexcept>

#include <torch/torch.h>

#include "lvm/data/dataset.h"
#include "lvm/models/factory.h"

namespace fs = std::filesystem;

namespace lvm::train {

std::string checkpoint_path(const std::string& run_dir, const std::string& checkpoint) {
  if (checkpoint == "best" || checkpoint == "last") {
    return (fs::path(run_dir) / "checkpoints" / (checkpoint + ".pt")).string();
  }
  return checkpoint;
}

LoadedRun load_run(const std::string& run_dir, const std::string& checkpoint, torch::Device device) {
  if (!fs::is_directory(run_dir)) throw std::invalid_argument(run_dir + ": no such run directory");
  const auto config_file = (fs::path(run_dir) / "config.yaml").string();
  if (!fs::exists(config_file)) {
    throw std::invalid_argument(run_dir + ": not a run directory (" + config_file + " not found)");
  }
  const std::string path = checkpoint_path(run_dir, checkpoint);
  if (!fs::exists(path)) {
    throw std::invalid_argument(run_dir + ": checkpoint '" + checkpoint + "' not found (" + path +
                                "); has the run finished an epoch?");
  }

  LoadedRun run;
  run.config = config::load_config(config_file);
  run.state = read_checkpoint_state(path);
  run.data_dim = run.state.data_dim;
  if (run.data_dim <= 0) {
    // Written before checkpoints recorded D: the data set knows it.
    run.data_dim = data::load_image_dataset(run.config.data, torch::kCPU, run.config.train.seed).dim();
  }
  run.model = make_model(run.config.model, run.data_dim);
  load_checkpoint(path, *run.model, nullptr);
  run.model->to(device);
  run.model->eval();
  return run;
}

}  // namespace lvm::train
