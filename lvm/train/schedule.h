#pragma once
// The optimiser's settings from the train section: the learning-rate schedule, as a function of
// the epoch (0-based) so that a resumed run computes the same rate as an uninterrupted one without
// saving scheduler state, and the Adam / AdamW options.

#include <cstdint>

#include "lvm/config/config.h"
#include "lvm/train/flat_adam.h"

namespace lvm::train {

/// none: lr; step: lr·γ^⌊e/step_size⌋; exponential: lr·γ^e;
/// cosine: lr_min + (lr − lr_min)·(1 + cos(π e / epochs))/2.
double learning_rate(const config::TrainConfig& config, int64_t epoch);

/// train.lr, betas, eps and weight_decay as FlatAdam options: an L2 term in the gradient for
/// `optimizer: adam` (torch.optim.Adam's weight_decay), decoupled for `adamw` (torch.optim.AdamW's).
FlatAdamOptions optimizer_options(const config::TrainConfig& config);

}  // namespace lvm::train
