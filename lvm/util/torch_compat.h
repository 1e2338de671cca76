#pragma once
// The few places where LibTorch 1.13 and 2.x differ in an API lvm uses, bridged once here so the
// rest of the code is written against one API. Each bridge is chosen from the types themselves
// (no version macros), so it also holds for versions in between.

#include <sstream>
#include <string>
#include <type_traits>

#include <torch/optim/optimizer.h>

namespace lvm::compat {

/// The key under which `optimizer.state()` holds `param`'s state. LibTorch 1.13 keys the map by
/// the TensorImpl address printed as text ("0x5581..."), 2.x by the address itself (void*).
/// (A template, so that only the branch of this LibTorch's key type is compiled.)
template <typename AnyOptimizer>
auto optimizer_state_key(AnyOptimizer& optimizer, const torch::Tensor& param) {
  static_assert(std::is_base_of_v<torch::optim::Optimizer, AnyOptimizer>);
  using Key = typename std::decay_t<decltype(optimizer.state())>::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;
    text << param.unsafeGetTensorImpl();
    return text.str();
  } else {
    return static_cast<Key>(param.unsafeGetTensorImpl());
  }
}

}  // namespace lvm::compat
