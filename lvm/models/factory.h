#pragma once
// Builds the model a config describes.

#include <memory>

#include "lvm/config/config.h"
#include "lvm/models/latent_variable_model.h"

namespace lvm {

/// data_dim: D of the data the model will see. Throws std::invalid_argument for unknown types.
std::shared_ptr<LatentVariableModel> make_model(const config::ModelConfig& config, int64_t data_dim);

}  // namespace lvm
