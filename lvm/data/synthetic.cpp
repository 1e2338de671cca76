#include "lvm/data/synthetic.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <stdexcept>

#include <torch/torch.h>

namespace lvm::data {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);
const auto kLong = torch::TensorOptions().dtype(torch::kLong);

// Rows (r cos θ, r sin θ): [n, 2]
torch::Tensor to_cartesian(const torch::Tensor& radius, const torch::Tensor& angle) {
  return torch::stack({radius * torch::cos(angle), radius * torch::sin(angle)}, 1);
}

}  // namespace

torch::Tensor make_synthetic(const std::string& name, int64_t n, double noise, uint64_t seed) {
  if (n < 0) throw std::invalid_argument("make_synthetic: n must be >= 0, got " + std::to_string(n));
  if (!(noise >= 0))
    throw std::invalid_argument("make_synthetic: noise must be >= 0, got " + std::to_string(noise));
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  if (name == "ring") {
    constexpr int64_t kModes = 8;
    const auto mode = torch::randint(kModes, {n}, generator, kLong).to(torch::kDouble);
    const auto centres = to_cartesian(torch::full({n}, 2.0, kDouble), mode * (2 * M_PI / kModes));
    return centres + noise * torch::randn({n, 2}, generator, kDouble);
  }
  if (name == "circles") {
    const auto outer = torch::randint(2, {n}, generator, kLong).to(torch::kDouble);
    const auto angle = torch::rand({n}, generator, kDouble) * (2 * M_PI);
    return to_cartesian(0.5 + 0.5 * outer, angle) + noise * torch::randn({n, 2}, generator, kDouble);
  }
  if (name == "pinwheel") {
    constexpr int64_t kArms = 5;
    constexpr double kRadialStd = 0.3;
    constexpr double kRate = 0.25;
    const auto arm = torch::randint(kArms, {n}, generator, kLong).to(torch::kDouble);
    const auto radial = 1.0 + kRadialStd * torch::randn({n}, generator, kDouble);
    const auto tangential = noise * torch::randn({n}, generator, kDouble);
    const auto angle = arm * (2 * M_PI / kArms) + kRate * torch::exp(radial);
    // (radial, tangential) as a row vector times the rotation [[cos, sin], [−sin, cos]].
    const auto c = torch::cos(angle);
    const auto s = torch::sin(angle);
    return torch::stack({radial * c - tangential * s, radial * s + tangential * c}, 1);
  }
  throw std::invalid_argument("data.synthetic: unknown synthetic data set '" + name +
                              "' (expected ring, circles or pinwheel)");
}

}  // namespace lvm::data
