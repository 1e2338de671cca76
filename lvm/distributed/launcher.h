#pragma once
// `lvm train ... --nproc N`: N copies of this lvm as the ranks of one data-parallel group on this
// machine. Each gets the torchrun variables (lvm/distributed/world.h) with MASTER_ADDR 127.0.0.1
// and a free port; their output comes back prefixed by rank ("[rank 1] ..."; rank 0's standard
// output verbatim, so that the command's one-line summary stays parseable). The first rank to
// fail (a non-zero exit, a signal) stops the others: SIGTERM, then SIGKILL after a grace period;
// the launcher exits with that rank's code. SIGINT or SIGTERM to the launcher goes to every rank
// (which stop together at a step boundary with a checkpoint); a second one kills them. If the
// launcher itself dies, the ranks get SIGTERM (Linux's parent-death signal).

#include <chrono>
#include <string>
#include <vector>

namespace lvm::distributed {

struct LaunchRequest {
  int nproc = 1;
  /// The program and its arguments for every rank (without --nproc), e.g. {"lvm", "train", "c.yaml"}.
  std::vector<std::string> argv;
  /// The executable to run; empty: this process's own (/proc/self/exe).
  std::string executable;
  /// How long the other ranks get to stop after the first failure before SIGKILL.
  std::chrono::milliseconds grace{10000};
};

/// Runs the ranks to the end; returns the exit code: 0 when all succeeded, else the first
/// failure's (128 + N for a rank ended by signal N).
int launch_local_ranks(const LaunchRequest& request);

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and released).
int free_loopback_port();

}  // namespace lvm::distributed
