#include "lvm/runtime/rng_fork.h"

#include <mutex>

#include <ATen/Context.h>

namespace lvm::runtime {

ForkedRng::ForkedRng(uint64_t seed, torch::Device device) {
  std::vector<at::Generator> generators = {at::globalContext().defaultGenerator(torch::kCPU)};
  if (!device.is_cpu()) generators.push_back(at::globalContext().defaultGenerator(device));
  for (auto& generator : generators) {
    std::lock_guard<std::mutex> lock(generator.mutex());
    saved_.emplace_back(generator, generator.get_state());
    generator.set_current_seed(seed);
  }
}

ForkedRng::~ForkedRng() {
  for (auto& [generator, state] : saved_) {
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);
  }
}

}  // namespace lvm::runtime
