#include "lvm/distributed/world.h"

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace lvm::distributed {
namespace {

// The whole value as a decimal integer in [lo, hi], else an error naming the variable.
int read_integer(const char* name, const char* text, long lo, long hi, const char* meaning) {
  errno = 0;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*text == '\0' || end == nullptr || *end != '\0' || errno == ERANGE) {
    throw std::invalid_argument(fmt::format("distributed environment: {}=\"{}\" is not an integer ({})", name,
                                            std::string(text), meaning));
  }
  if (value < lo || value > hi) {
    throw std::invalid_argument(fmt::format("distributed environment: {}={} is out of range [{}, {}] ({})",
                                            name, value, lo, hi, meaning));
  }
  return static_cast<int>(value);
}

}  // namespace

Environment process_environment() {
  return [](const char* name) { return static_cast<const char*>(std::getenv(name)); };
}

std::optional<World> world_from_environment(const Environment& env) {
  if (env("RANK") == nullptr && env("WORLD_SIZE") == nullptr) return std::nullopt;
  std::vector<std::string> missing;
  for (const char* name : {"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"})
    if (env(name) == nullptr || *env(name) == '\0') missing.emplace_back(name);
  if (!missing.empty()) {
    throw std::invalid_argument(fmt::format(
        "distributed environment: {} not set; a data-parallel process needs RANK, WORLD_SIZE, MASTER_ADDR "
        "and MASTER_PORT (lvm train --nproc N or torchrun set them all; unset RANK and WORLD_SIZE for one "
        "process)",
        fmt::join(missing, ", ")));
  }
  constexpr long kMaxProcesses = 1 << 20;
  World world;
  world.world_size =
      read_integer("WORLD_SIZE", env("WORLD_SIZE"), 1, kMaxProcesses, "the number of processes");
  world.rank = read_integer("RANK", env("RANK"), 0, kMaxProcesses, "this process's index");
  if (world.rank >= world.world_size) {
    throw std::invalid_argument(fmt::format(
        "distributed environment: RANK={} is not below WORLD_SIZE={} (ranks are 0 to WORLD_SIZE - 1)",
        world.rank, world.world_size));
  }
  world.local_world_size = env("LOCAL_WORLD_SIZE") != nullptr
                               ? read_integer("LOCAL_WORLD_SIZE", env("LOCAL_WORLD_SIZE"), 1,
                                              world.world_size, "the processes on this machine")
                               : world.world_size;
  world.local_rank = env("LOCAL_RANK") != nullptr
                         ? read_integer("LOCAL_RANK", env("LOCAL_RANK"), 0, world.local_world_size - 1,
                                        "this process's index on this machine")
                         : world.rank;
  world.master_addr = env("MASTER_ADDR");
  world.master_port = read_integer("MASTER_PORT", env("MASTER_PORT"), 1, 65535, "the store's TCP port");
  const char* agent = env("TORCHELASTIC_USE_AGENT_STORE");
  world.agent_store = agent != nullptr && std::string(agent) == "True";
  if (const char* restart = env("TORCHELASTIC_RESTART_COUNT"); restart != nullptr) world.restart = restart;
  return world;
}

std::string describe(const World& world) {
  return fmt::format("rank {} of {}", world.rank, world.world_size);
}

}  // namespace lvm::distributed
