#pragma once
// Refuses, before anything is allocated or written, a VAE config whose training step cannot fit
// in memory: the weights with their gradients and Adam's two moments, and one step's k x
// batch_size rows through encoder and decoder with autograd's saved activations.

#include <cstdint>

#include <torch/types.h>

#include "lvm/config/config.h"

namespace lvm::train {

/// Throws config::ConfigError naming the keys to lower when the estimate exceeds the memory
/// available on `device` (runtime::available_memory; no check where that is unknown).
void check_training_memory(const config::ExperimentConfig& config, int64_t data_dim, torch::Device device);

}  // namespace lvm::train
