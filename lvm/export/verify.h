#pragma once
// The check an export runs on its reloaded file before it replaces the output (and the tests run
// too): a method of the TorchScript module against the native model, on the same inputs and,
// for random methods, under the same seed.

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <torch/csrc/jit/api/module.h>
#include <torch/types.h>

namespace lvm::torchscript {

class Checker {
 public:
  explicit Checker(torch::jit::Module& module) : module_(module) {}

  torch::Tensor tensor(const std::string& method, std::vector<c10::IValue> args);
  std::pair<torch::Tensor, torch::Tensor> pair(const std::string& method, std::vector<c10::IValue> args);

  /// Throws std::runtime_error naming `what` unless the shapes agree and the values agree to float
  /// rounding (relative 1e-5), or exactly for integer tensors.
  void close(const std::string& what, const torch::Tensor& actual, const torch::Tensor& expected);

  /// `native()` and then `method(args)` from the same seed of the CPU generator, compared with
  /// close(); the generator's state is restored afterwards, so an export leaves no trace in it.
  void seeded(const std::string& method, const std::function<torch::Tensor()>& native,
              std::vector<c10::IValue> args);

 private:
  torch::jit::Module& module_;
};

}  // namespace lvm::torchscript
