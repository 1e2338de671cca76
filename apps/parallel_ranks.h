#pragma once
// What `lvm train` and `lvm eval` share to run data-parallel: --nproc N starts N copies of the
// command line (lvm/distributed/launcher.h); a copy finds its rank in the environment
// (lvm/distributed/world.h) and joins the group.

#include <memory>
#include <optional>
#include <string>

#include "lvm/distributed/process_group.h"
#include "lvm/distributed/world.h"

namespace lvm::app {

/// The World the environment describes (nullopt: one process); `--nproc` given too is a usage
/// error, since a rank must not start ranks of its own.
std::optional<distributed::World> world_for_command(int64_t nproc);

/// Runs this command line (without --nproc) as `nproc` local ranks; returns the exit code. The
/// others get min(10 s, timeout_s) to stop after a rank fails.
int launch_ranks(int64_t nproc, double timeout_s);

/// Joins the group of `world`, waiting up to timeout_s.
std::shared_ptr<distributed::ProcessGroup> join_group(const distributed::World& world, double timeout_s);

/// `threads` (0: all cores) as one rank's share when `world` puts several on this machine.
int64_t threads_of_rank(int64_t threads, const std::optional<distributed::World>& world);

}  // namespace lvm::app
