#include "lvm/nn/part_config.h"

namespace lvm::nn {

const std::vector<std::string>& part_activations() {
  static const std::vector<std::string> names = {"tanh", "relu", "elu", "softplus"};
  return names;
}

const std::vector<PartType>& part_types() {
  static const std::vector<PartType> types = {
      {"mlp", "multi-layer perceptron on the flattened input",
       [](PartConfig& part, config::FieldVisitor& v) {
         v.field("hidden", part.hidden, config::at_least(1));
         v.choice("activation", part.activation, part_activations());
       }},
  };
  return types;
}

std::vector<std::string> part_type_names() {
  std::vector<std::string> names;
  for (const PartType& type : part_types()) names.push_back(type.name);
  return names;
}

const PartType* find_part_type(const std::string& name) {
  for (const PartType& type : part_types()) {
    if (type.name == name) return &type;
  }
  return nullptr;
}

void PartConfig::visit_fields(config::FieldVisitor& v) {
  v.choice("type", type, part_type_names());
  // A type nobody declared (set in code; a parse refuses it above) has no keys to visit.
  if (const PartType* part_type = find_part_type(type)) part_type->visit_keys(*this, v);
}

}  // namespace lvm::nn
