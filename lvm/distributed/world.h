#pragma once
// Where this process stands in a data-parallel job, read from the environment by the torchrun
// convention, so that one binary runs under `lvm train --nproc N` (lvm/distributed/launcher.h),
// torchrun (python3 -m torch.distributed.run --no_python) or a scheduler that sets the same:
//   RANK, WORLD_SIZE                 this process's index and the number of processes
//   LOCAL_RANK, LOCAL_WORLD_SIZE     the same on this machine (default: RANK, WORLD_SIZE)
//   MASTER_ADDR, MASTER_PORT         where rank 0 (or torchrun's agent) hosts the store
//   TORCHELASTIC_USE_AGENT_STORE     "True" under torchrun: its agent hosts the store, so every
//                                    rank connects as a client
//   TORCHELASTIC_RESTART_COUNT       keeps a restarted group's keys apart from the last one's

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace lvm::distributed {

struct World {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr;
  int master_port = 0;
  bool agent_store = false;   // the store is hosted for us (torchrun's agent)
  std::string restart = "0";  // TORCHELASTIC_RESTART_COUNT
};

/// Looks up an environment variable: its value, or nullptr when unset.
using Environment = std::function<const char*(const char* name)>;

/// The process's own environment (std::getenv).
Environment process_environment();

/// The World the environment describes, or nullopt when it describes none (neither RANK nor
/// WORLD_SIZE set: a single process). Throws std::invalid_argument naming the variable for a
/// partial or invalid one: a missing variable, a value that is not a number, WORLD_SIZE < 1,
/// RANK outside [0, WORLD_SIZE), a port outside 1..65535.
std::optional<World> world_from_environment(const Environment& env);

/// "rank 1 of 4", for messages.
std::string describe(const World& world);

}  // namespace lvm::distributed
