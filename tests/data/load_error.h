#pragma once
// The DataError message load_image_dataset gives for a config, for the data-set tests.

#include <string>

#include <torch/torch.h>

#include "lvm/data/dataset.h"
#include "lvm/data/idx.h"

namespace lvm::data::testing_data {

/// What load_image_dataset(c) throws as DataError, or "(no error)" when it loads.
inline std::string load_error(const config::DataConfig& c) {
  try {
    load_image_dataset(c, torch::kCPU, 0);
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace lvm::data::testing_data
