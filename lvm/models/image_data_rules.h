#pragma once
// The data rules shared by the models of images with a pixel likelihood (the VAE family): what
// data they train on, and when a Bernoulli likelihood is a likelihood at all.

#include <string>

#include "lvm/config/config.h"

namespace lvm {

/// Fails through `context` (naming the data key) when `config`'s data do not suit a model of
/// images `model_type` with pixel likelihood `likelihood` (bernoulli | gaussian): vector data sets,
/// a PCA projection, or a Bernoulli likelihood on grey levels that data.bernoulli_on_grey allows not.
void check_image_model_data(const config::ExperimentConfig& config, const config::RuleContext& context,
                            const std::string& model_type, const std::string& likelihood);

}  // namespace lvm
