#include "lvm/export/torchscript.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "lvm/config/config.h"
#include "lvm/export/script_part.h"
#include "lvm/train/run_dir.h"
#include "lvm/util/files.h"

namespace lvm::torchscript {
namespace {

namespace fs = std::filesystem;

// The model's script, or a clear refusal.
std::unique_ptr<ModelScript> model_script(LatentVariableModel& model) {
  auto script = model.script();
  if (script == nullptr) {
    throw std::invalid_argument("export: model kind '" + model.kind() +
                                "' has no TorchScript form (its class does not override "
                                "LatentVariableModel::script; see lvm/export/script_part.h)");
  }
  return script;
}

torch::jit::Module build(LatentVariableModel& model, const ExportMetadata& metadata, ModelScript& script) {
  std::vector<int64_t> input_shape = metadata.input_shape;
  if (input_shape.empty()) input_shape = {model.data_dim()};
  const int64_t product =
      std::accumulate(input_shape.begin(), input_shape.end(), int64_t{1}, std::multiplies<>());
  if (product != model.data_dim()) {
    throw std::invalid_argument(
        fmt::format("export: input shape [{}] has {} elements but the model's data_dim is {}",
                    fmt::join(input_shape, ", "), product, model.data_dim()));
  }

  torch::jit::Module module{c10::QualifiedName("__torch__.lvm." + script.class_name)};
  add_reference(module, script.dtype);
  std::string source = script.source;
  auto add_string = [&](const std::string& name, const std::string& value) {
    module.register_attribute(name, c10::StringType::get(), value);
  };
  for (auto& [role, part] : script.parts) {
    module.register_module(role, part.module);
    source += part.facade_source;
    for (const auto& [name, value] : part.string_attributes) add_string(name, value);
  }
  for (const auto& [name, value] : script.int_attributes)
    module.register_attribute(name, c10::IntType::get(), value);
  for (const auto& [name, value] : script.string_attributes) add_string(name, value);
  add_string("model_kind", model.kind());
  module.register_attribute("latent_dim", c10::IntType::get(), model.latent_dim());
  module.register_attribute("data_dim", c10::IntType::get(), model.data_dim());
  module.register_attribute("input_shape", c10::ListType::ofInts(), c10::List<int64_t>(input_shape));
  add_string("binarization", metadata.binarization);
  add_string("config_yaml", metadata.config_yaml);
  module.register_attribute("epoch", c10::IntType::get(), metadata.epoch);
  add_string("lvm_version", std::string(LVM_VERSION));
  module.register_attribute("export_format_version", c10::IntType::get(), kExportFormatVersion);
  module.register_attribute("chunk_elements", c10::IntType::get(), kDefaultChunkElements);
  module.define(source);
  module.eval();
  return module;
}

}  // namespace

torch::jit::Module build_module(LatentVariableModel& model, const ExportMetadata& metadata) {
  auto script = model_script(model);
  return build(model, metadata, *script);
}

std::vector<std::string> exported_methods(LatentVariableModel& model) { return model_script(model)->methods; }

void save_module(LatentVariableModel& model, const ExportMetadata& metadata, const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw std::invalid_argument(path + ": is a directory, not an output file");
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw std::invalid_argument(path + ": directory " + parent.string() + " does not exist");

  auto script = model_script(model);
  auto module = build(model, metadata, *script);
  // Serialised in memory and written by util, which checks every write (a full disk must fail the
  // export, not leave a short file behind).
  std::ostringstream bytes;
  try {
    module.save(bytes);
  } catch (const c10::Error& e) {
    throw util::IoError(path + ": cannot write the TorchScript module: " + e.what_without_backtrace());
  }
  util::replace_file_atomic(path, [&](const std::string& tmp) {
    util::write_whole_file(tmp, bytes.str(), path);
    auto reloaded = torch::jit::load(tmp, model.parameters().front().device());
    try {
      script->verify(reloaded);
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": export check failed, file not written: " + e.what());
    }
  });
}

ExportResult export_run(const std::string& run_dir, const std::string& checkpoint,
                        const std::string& output) {
  const auto run = train::load_run(run_dir, checkpoint, torch::kCPU);
  ExportMetadata metadata;
  metadata.input_shape = run.state.data_shape;
  metadata.binarization = run.config.data.binarize;
  metadata.config_yaml = config::to_yaml(run.config);
  metadata.epoch = run.state.epoch;
  save_module(*run.model, metadata, output);

  ExportResult result;
  result.checkpoint_path = run.checkpoint_path;
  result.epoch = run.state.epoch;
  for (const auto& p : run.model->parameters()) result.parameters += p.numel();
  result.methods = exported_methods(*run.model);
  result.bytes = fs::file_size(output);
  return result;
}

}  // namespace lvm::torchscript
