#include "lvm/export/verify.h"

#include <stdexcept>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/script.h>
#include <torch/torch.h>

namespace lvm::torchscript {
namespace {
constexpr uint64_t kCheckSeed = 20161101;
}

torch::Tensor Checker::tensor(const std::string& method, std::vector<c10::IValue> args) {
  return module_.get_method(method)(std::move(args)).toTensor();
}

std::pair<torch::Tensor, torch::Tensor> Checker::pair(const std::string& method,
                                                      std::vector<c10::IValue> args) {
  const auto tuple = module_.get_method(method)(std::move(args)).toTuple();
  return {tuple->elements()[0].toTensor(), tuple->elements()[1].toTensor()};
}

void Checker::close(const std::string& what, const torch::Tensor& actual, const torch::Tensor& expected) {
  if (actual.sizes() != expected.sizes()) {
    throw std::runtime_error(fmt::format("{}: shape [{}] where the model gives [{}]", what,
                                         fmt::join(actual.sizes(), ", "), fmt::join(expected.sizes(), ", ")));
  }
  const auto a = actual.to(expected.device());
  const bool integral = !a.is_floating_point() || !expected.is_floating_point();
  const bool ok = integral ? torch::equal(a.to(torch::kLong), expected.to(torch::kLong))
                           : torch::allclose(a.to(expected.scalar_type()), expected, 1e-5, 1e-6);
  if (!ok) {
    const double difference =
        integral ? 0.0 : (a.to(expected.scalar_type()) - expected).abs().max().item<double>();
    throw std::runtime_error(
        fmt::format("{} does not reproduce the model (largest difference {:.3g})", what, difference));
  }
}

void Checker::seeded(const std::string& method, const std::function<torch::Tensor()>& native,
                     std::vector<c10::IValue> args) {
  auto generator = at::detail::getDefaultCPUGenerator();
  const auto saved = generator.get_state();
  try {
    generator.set_current_seed(kCheckSeed);
    const auto expected = native();
    generator.set_current_seed(kCheckSeed);
    close(method, tensor(method, std::move(args)), expected);
  } catch (...) {
    generator.set_state(saved);
    throw;
  }
  generator.set_state(saved);
}

}  // namespace lvm::torchscript
