#pragma once
// Random draws that leave the program's random stream alone: while a ForkedRng is alive the
// default generators (CPU, and `device`'s when it is not the CPU) are re-seeded with `seed`; on
// destruction their previous states come back. Used for pictures during training, so that
// drawing them does not change what training draws next (resumed runs stay bit-identical), and
// so that the same seed gives the same noise every epoch.

#include <cstdint>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/types.h>

namespace lvm::runtime {

class ForkedRng {
 public:
  ForkedRng(uint64_t seed, torch::Device device);
  ~ForkedRng();
  ForkedRng(const ForkedRng&) = delete;
  ForkedRng& operator=(const ForkedRng&) = delete;

 private:
  std::vector<std::pair<at::Generator, torch::Tensor>> saved_;
};

}  // namespace lvm::runtime
