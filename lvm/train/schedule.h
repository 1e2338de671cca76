#pragma once
// Learning-rate schedules, as a function of the epoch (0-based), so that a resumed run computes
// the same rate as an uninterrupted one without saving scheduler state.

#include <cstdint>

#include "lvm/config/config.h"

namespace lvm::train {

/// none: lr; step: lr·γ^⌊e/step_size⌋; exponential: lr·γ^e;
/// cosine: lr_min + (lr − lr_min)·(1 + cos(π e / epochs))/2.
double learning_rate(const config::TrainConfig& config, int64_t epoch);

}  // namespace lvm::train
