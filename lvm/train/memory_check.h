#pragma once
// Refuses, before anything is allocated or written, a config whose training step cannot fit in
// memory: the weights with their gradients and Adam's two moments, and one step's activations
// (batch_size examples, each with its latent samples) with autograd's saved copies. The sizes come
// from the model's own estimate (ModelSpec::footprint, lvm/models/registry.h).

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "lvm/config/config.h"

namespace lvm::train {

/// Throws config::ConfigError naming the keys to lower when the estimate exceeds the memory
/// available on `device` (runtime::available_memory; no check where that, or the model's
/// footprint, is unknown).
void check_training_memory(const config::ExperimentConfig& config, const std::vector<int64_t>& data_shape,
                           torch::Device device);

}  // namespace lvm::train
