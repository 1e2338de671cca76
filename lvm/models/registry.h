#pragma once
// The model registry: how lvm finds a model by its `model.type`. A model is one folder,
// lvm/models/<name>/, that defines `ModelSpec lvm::models::<name>_model()`; CMake finds the
// folders and registers each (the generated builtin_models.cpp). A downstream project registers
// its own models at start-up, before it reads a config:
//
//   static const lvm::ModelRegistration my_model(lvm::ModelSpec{...});
//
// Nothing else in lvm names a model: the config reads the chosen model's keys through its
// options, the trainer, run directories, evaluation and the apps build models through make_model.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lvm/config/config.h"
#include "lvm/models/latent_variable_model.h"
#include "lvm/objectives/objective.h"
#include "lvm/util/json.h"

namespace lvm {

namespace train {
struct TrainRequest;
}

/// A model's size, estimated from its options before it is built, for the memory checks of
/// training (lvm/train/memory_check.h) and evaluation (the chunk of samples that fits).
struct MemoryFootprint {
  double parameters = 0;         // number of weights
  double bytes_per_example = 0;  // activations of one example's pass that no latent sample repeats (encoder)
  double bytes_per_sample = 0;   // activations of one latent sample of one example (decoder, z, densities)
  std::string size_keys;         // the keys that set the sizes, as given, e.g. "model.latent_dim 50"
  std::string samples_key;       // the key of the samples per training example, e.g. "model.k"
};

/// Everything lvm needs to know of one model type.
struct ModelSpec {
  std::string type;         // the model.type value, e.g. "vae"
  std::string description;  // one line, for listings and errors
  /// The model's options with their defaults (its keys of the model section).
  std::function<std::unique_ptr<config::ModelOptions>()> default_options;
  /// The model for data of `data_shape`: [C, H, W] images or [D] vectors.
  std::function<std::shared_ptr<LatentVariableModel>(const config::ModelOptions& options,
                                                     const std::vector<int64_t>& data_shape)>
      build;
  /// Optional: the model's size from its options. Without it, training and evaluation skip the
  /// memory checks that need it.
  std::function<MemoryFootprint(const config::ModelOptions& options, const std::vector<int64_t>& data_shape)>
      footprint;
  /// The objective the gradient trainer (lvm/train/trainer.h) maximises. Empty for a model that
  /// only `fit` trains.
  std::function<Objective(const config::ModelOptions& options)> objective;
  /// Set by a model with a fit of its own (the mixture's EM): `lvm train` calls it instead of the
  /// gradient trainer and prints the JSON line it returns.
  std::function<util::Json(const train::TrainRequest& request)> fit;
};

/// Adds a model type; throws std::invalid_argument when the type is taken or a required member
/// (type, default_options, build) is empty.
void register_model(ModelSpec spec);

/// Registers at static initialisation: `static const lvm::ModelRegistration r(spec);` in the
/// program (not in a static library, whose unreferenced objects the linker drops).
struct ModelRegistration {
  explicit ModelRegistration(ModelSpec spec) { register_model(std::move(spec)); }
};

/// The spec of `type`; throws config::ConfigError naming the registered types.
const ModelSpec& model_spec(const std::string& type);
/// Every registered type, sorted.
std::vector<std::string> registered_model_types();
/// The model a config without model.type gets.
const std::string& default_model_type();

/// The model `config` describes, for data of `data_shape` ([C, H, W] or [D]).
std::shared_ptr<LatentVariableModel> make_model(const config::ModelConfig& config,
                                                const std::vector<int64_t>& data_shape);

/// The options of a spec's callbacks as the model's own struct (they always are: the registry
/// pairs each model with its options).
template <typename T>
const T& options_as(const config::ModelOptions& options) {
  return dynamic_cast<const T&>(options);
}

}  // namespace lvm
