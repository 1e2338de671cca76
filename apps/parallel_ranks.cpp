#include "apps/parallel_ranks.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "apps/commands.h"
#include "lvm/distributed/launcher.h"
#include "lvm/runtime/runtime.h"

namespace lvm::app {
namespace {

std::vector<std::string> saved_command_line;

// The command line without --nproc N (or --nproc=N): what each rank runs.
std::vector<std::string> rank_command_line() {
  std::vector<std::string> out;
  const auto& all = saved_command_line;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i] == "--nproc") {
      ++i;  // and its value
    } else if (all[i].rfind("--nproc=", 0) != 0) {
      out.push_back(all[i]);
    }
  }
  return out;
}

std::chrono::milliseconds milliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

}  // namespace

void set_command_line(int argc, char** argv) { saved_command_line.assign(argv, argv + argc); }
const std::vector<std::string>& command_line() { return saved_command_line; }

std::optional<distributed::World> world_for_command(int64_t nproc) {
  auto world = distributed::world_from_environment(distributed::process_environment());
  if (world && nproc > 0) {
    throw UsageError("--nproc cannot start processes inside a data-parallel job (" +
                     distributed::describe(*world) + " from RANK and WORLD_SIZE); drop one of the two");
  }
  return world;
}

int launch_ranks(int64_t nproc, double timeout_s) {
  distributed::LaunchRequest launch;
  launch.nproc = static_cast<int>(nproc);
  launch.argv = rank_command_line();
  // The others' time to stop after a rank fails: long enough for a step and its exchange to
  // fail, never longer than the exchanges' own timeout.
  launch.grace = milliseconds(std::min(10.0, timeout_s));
  return distributed::launch_local_ranks(launch);
}

std::shared_ptr<distributed::ProcessGroup> join_group(const distributed::World& world, double timeout_s) {
  return distributed::ProcessGroup::join(world, milliseconds(timeout_s));
}

int64_t threads_of_rank(int64_t threads, const std::optional<distributed::World>& world) {
  return runtime::threads_of_process(threads, world ? world->local_world_size : 1);
}

}  // namespace lvm::app
