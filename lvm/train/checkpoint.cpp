#include "lvm/train/checkpoint.h"

#include <filesystem>
#include <sstream>

#include <torch/serialize.h>
#include <torch/torch.h>

#include "lvm/util/files.h"

namespace lvm::train {
namespace {

// Parameters and buffers under one namespace, so new state keys never collide with them.
std::string tensor_key(const std::string& name) { return "model/" + name; }

torch::serialize::InputArchive open_archive(const std::string& path) {
  if (!std::filesystem::exists(path)) throw CheckpointError(path + ": checkpoint not found");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, torch::kCPU);
  } catch (const c10::Error& e) {
    throw CheckpointError(
        path + ": not a readable checkpoint (truncated or corrupt file): " + e.what_without_backtrace());
  }
  return archive;
}

CheckpointState read_state(torch::serialize::InputArchive& archive, const std::string& path) {
  auto read = [&](const char* key) {
    c10::IValue value;
    if (!archive.try_read(key, value))
      throw CheckpointError(path + ": not an lvm checkpoint (no '" + std::string(key) + "')");
    return value;
  };
  const int64_t version = read("format_version").toInt();
  if (version > kCheckpointFormatVersion) {
    throw CheckpointError(path + ": checkpoint format version " + std::to_string(version) +
                          " is newer than this lvm understands (" + std::to_string(kCheckpointFormatVersion) +
                          "); upgrade lvm");
  }
  CheckpointState state;
  state.epoch = read("epoch").toInt();
  state.best_value = read("best_value").toDouble();
  state.best_epoch = read("best_epoch").toInt();
  state.config_yaml = read("config_yaml").toStringRef();
  state.metrics_csv = read("metrics_csv").toStringRef();
  c10::IValue rng;
  if (archive.try_read("rng_state", rng) && rng.isTensor()) state.rng_state = rng.toTensor();
  c10::IValue data_shape;
  if (archive.try_read("data_shape", data_shape) && data_shape.isIntList())
    state.data_shape = data_shape.toIntVector();
  if (version >= 2) {
    state.step = read("step").toInt();
    state.epoch_value_sum = read("epoch_value_sum").toDouble();
    state.epoch_examples = read("epoch_examples").toInt();
    state.epoch_seconds = read("epoch_seconds").toDouble();
    state.epoch_skipped = read("epoch_skipped").toInt();
  }
  return state;
}

}  // namespace

void save_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const CheckpointState& state) {
  torch::serialize::OutputArchive archive;
  archive.write("format_version", c10::IValue(kCheckpointFormatVersion));
  archive.write("epoch", c10::IValue(state.epoch));
  archive.write("best_value", c10::IValue(state.best_value));
  archive.write("best_epoch", c10::IValue(state.best_epoch));
  archive.write("config_yaml", c10::IValue(state.config_yaml));
  archive.write("metrics_csv", c10::IValue(state.metrics_csv));
  if (state.rng_state.defined()) archive.write("rng_state", c10::IValue(state.rng_state));
  if (!state.data_shape.empty()) archive.write("data_shape", c10::IValue(state.data_shape));
  archive.write("step", c10::IValue(state.step));
  archive.write("epoch_value_sum", c10::IValue(state.epoch_value_sum));
  archive.write("epoch_examples", c10::IValue(state.epoch_examples));
  archive.write("epoch_seconds", c10::IValue(state.epoch_seconds));
  archive.write("epoch_skipped", c10::IValue(state.epoch_skipped));
  for (const auto& item : model.named_parameters())
    archive.write(tensor_key(item.key()), item.value().detach().cpu());
  for (const auto& item : model.named_buffers())
    archive.write(tensor_key(item.key()), item.value().cpu(), true);
  if (optimizer != nullptr) {
    torch::serialize::OutputArchive optimizer_archive;
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }
  // Serialised in memory and written by util, which checks every write, fsync and rename (a full
  // disk must not leave a short file in place of the last good checkpoint).
  std::ostringstream bytes;
  try {
    archive.save_to(bytes);
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": cannot write checkpoint: " + e.what_without_backtrace());
  }
  util::write_file_atomic(path, bytes.str());
}

CheckpointState read_checkpoint_state(const std::string& path) {
  auto archive = open_archive(path);
  return read_state(archive, path);
}

CheckpointState load_checkpoint(const std::string& path, torch::nn::Module& model,
                                torch::optim::Optimizer* optimizer) {
  auto archive = open_archive(path);
  CheckpointState state = read_state(archive, path);

  // Read and check everything first; copy into the model only once all of it fits.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  auto stage = [&](const std::string& name, const torch::Tensor& target, bool is_buffer) {
    torch::Tensor stored;
    if (!archive.try_read(tensor_key(name), stored, is_buffer)) {
      throw CheckpointError(path + ": parameter '" + name +
                            "' is missing: the checkpoint was written by another model architecture");
    }
    if (stored.sizes() != target.sizes()) {
      std::ostringstream message;
      message << path << ": parameter '" << name << "' has shape " << stored.sizes()
              << " in the checkpoint but " << target.sizes()
              << " in the model: the checkpoint was written by another model architecture";
      throw CheckpointError(message.str());
    }
    copies.emplace_back(target, stored);
  };
  for (const auto& item : model.named_parameters()) stage(item.key(), item.value(), false);
  for (const auto& item : model.named_buffers()) stage(item.key(), item.value(), true);
  {
    torch::NoGradGuard no_grad;
    for (auto& [target, stored] : copies) target.copy_(stored);
  }
  if (optimizer != nullptr) {
    torch::serialize::InputArchive optimizer_archive;
    if (!archive.try_read("optimizer", optimizer_archive)) {
      throw CheckpointError(path + ": holds no optimiser state, so training cannot resume from it");
    }
    try {
      optimizer->load(optimizer_archive);
    } catch (const c10::Error& e) {
      throw CheckpointError(path +
                            ": optimiser state does not match the model: " + e.what_without_backtrace());
    }
  }
  return state;
}

}  // namespace lvm::train
