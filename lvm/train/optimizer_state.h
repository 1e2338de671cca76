#pragma once
// Adam's per-parameter state (step, first and second moments) in a checkpoint, readable by every
// LibTorch version. LibTorch's own Optimizer::save keys each state by the parameter's memory
// address as text, and the versions disagree on that text: 1.13 writes "0x55d0...", 2.x parses
// keys back as decimal numbers, so a 1.13 checkpoint loaded by 2.x's Optimizer::load gives every
// key the value 0 and leaves null states that crash Adam::step. lvm therefore writes LibTorch's
// layout with positional keys ("0", "1", ... over all parameter groups, which both versions'
// Optimizer::load also accept) and reads it itself, whatever the keys look like.

#include <string>

#include <torch/optim/adam.h>
#include <torch/serialize/archive.h>

namespace lvm::train {

/// Writes `optimizer`'s parameter groups, options and state into `archive` (LibTorch's layout:
/// pytorch_version, state/<key>/..., param_groups/...), keyed by parameter position.
void save_adam_state(torch::serialize::OutputArchive& archive, torch::optim::Adam& optimizer);

/// Replaces `optimizer`'s state with what `archive` holds: lvm's positional keys, or LibTorch's
/// address keys of any version (each group's params list says which state belongs to which
/// parameter). Every value is checked for its type and every moment for its parameter's shape
/// before the optimiser is touched; a parameter with no saved state starts fresh, as Adam's own
/// first step would. The options (learning rate, betas, eps) stay the optimiser's own: they come
/// from the run's config. Throws CheckpointError naming `path` and what does not fit.
void load_adam_state(torch::serialize::InputArchive& archive, torch::optim::Adam& optimizer,
                     const std::string& path);

}  // namespace lvm::train
