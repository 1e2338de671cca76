#pragma once
// A network part chosen by config: a model's encoder or decoder section, e.g.
//
//   model:
//     encoder: {type: mlp, hidden: [200, 200], activation: tanh}
//     decoder: {type: mlp, hidden: [200, 200], activation: tanh}
//
// `type` picks one of the part types below; the rest of the section holds that type's keys only
// (strict, like every section: another key is an error with file:line:key).
//
// The contracts a part of each role keeps, whatever its type:
//
//   encoder  x [B, *data_shape] -> a distribution over z with batch shape [B] and event [Z]
//            (q(z|x)); data_shape is the data's shape as the model was built for it, e.g.
//            [1, 28, 28] for images or [D] for vectors, never a flattened size.
//   decoder  z [S..., B, Z] -> a distribution over x with batch shape [S..., B] (p(x|z)); its
//            event is the data (the MLP's: the data flattened to [D]).
//
// The data shape reaches the part as a shape (ModelSpec::build's data_shape), so that a part that
// sees images as images (a conv part) plugs in with its own type entry and keys.
//
//   mlp      a multi-layer perceptron (lvm/nn/mlp.h). It flattens x [B, *data_shape] to [B, D]
//            (D the product of data_shape); its keys: hidden (the hidden layer widths, each >= 1,
//            possibly none) and activation (tanh | relu | elu | softplus) after each hidden layer.
//
// To add a part type: its keys as members of PartConfig (with their defaults) and one entry in
// part_types() (part_config.cpp) that declares them; then teach the models that build parts to
// build it.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lvm/config/fields.h"

namespace lvm::nn {

/// The activations an MLP part takes (lvm/nn/mlp.h).
const std::vector<std::string>& part_activations();

/// One part's section of the config. The members are the keys of every part type; a section
/// declares (parses, writes, compares) `type` and the keys of its type only.
struct PartConfig : config::Section {
  std::string type = "mlp";
  // --- mlp ---
  std::vector<int64_t> hidden = {200, 200};  // hidden layer widths (may be empty: one Linear)
  std::string activation = "tanh";           // tanh | relu | elu | softplus

  void visit_fields(config::FieldVisitor& v) override;
};

/// A kind of part: its `type` name and the keys it adds to the part's section.
struct PartType {
  std::string name;         // the `type` value, e.g. "mlp"
  std::string description;  // one line, for listings
  /// Declares the type's keys (every key but `type`) over the PartConfig members they use.
  std::function<void(PartConfig& part, config::FieldVisitor& v)> visit_keys;
};

/// Every part type, in the order `type`'s rule lists them.
const std::vector<PartType>& part_types();
/// Their names: "mlp", ...
std::vector<std::string> part_type_names();
/// The part type called `name`, or nullptr.
const PartType* find_part_type(const std::string& name);

}  // namespace lvm::nn
