#include "lvm/train/memory_check.h"

#include <fmt/format.h>

#include "lvm/models/registry.h"
#include "lvm/runtime/memory.h"

namespace lvm::train {

void check_training_memory(const config::ExperimentConfig& config, const std::vector<int64_t>& data_shape,
                           torch::Device device) {
  const ModelSpec& spec = model_spec(config.model.type());
  if (!spec.footprint) return;
  const auto available = runtime::available_memory(device);
  if (!available) return;
  const MemoryFootprint size = spec.footprint(config.model.options(), data_shape);
  const double memory = static_cast<double>(*available);
  constexpr double kFloat = sizeof(float);
  // Weights, gradients and Adam's two moments.
  const double weight_bytes = 4 * kFloat * size.parameters;
  if (weight_bytes > memory) {
    throw config::ConfigError(fmt::format(
        "{}: the networks have {:.3g} weights, about {} with their gradients and Adam's state, more than the "
        "{} of memory available",
        size.size_keys, size.parameters, runtime::format_bytes(weight_bytes), runtime::format_bytes(memory)));
  }
  // Activations, saved for the backward pass, and their gradients: about 3x a forward pass.
  const double batch = static_cast<double>(config.train.batch_size);
  const int64_t samples = config.model.options().samples_per_example();
  const double rows = static_cast<double>(samples) * batch;
  const double step_bytes = 3.0 * (batch * size.bytes_per_example + rows * size.bytes_per_sample);
  if (weight_bytes + step_bytes > memory) {
    const std::string samples_part =
        size.samples_key.empty() ? "" : fmt::format("{} {} x ", size.samples_key, samples);
    throw config::ConfigError(fmt::format(
        "{}train.batch_size {}: one training step runs {:.3g} rows through the model, about {} with "
        "autograd's saved activations, more than the {} of memory available; lower train.batch_size{}",
        samples_part, config.train.batch_size, rows, runtime::format_bytes(step_bytes),
        runtime::format_bytes(memory), size.samples_key.empty() ? "" : " or " + size.samples_key));
  }
}

}  // namespace lvm::train
