#pragma once
// Fault injection for the reliability tests. Production code marks the places where a crash or a
// numerical fault would hurt most (mid-step, mid-checkpoint-write, ...) with a named fault point;
// the environment variable LVM_FAULT="<point>@<n>" arms the n-th (1-based) arrival at that point
// in this process (with LVM_FAULT_RANK=r as well: only in rank r of a data-parallel job). Unset (the normal
// case), a fault point costs one cached flag test.

#include <string_view>

namespace lvm::util {

/// Counts an arrival at `point`; true exactly on the arrival LVM_FAULT names.
bool fault_hits(std::string_view point);

/// Crashes the process with SIGKILL (no destructors, no flushing: what the OOM killer does) when
/// `point` is hit.
void crash_point(std::string_view point);

/// Hangs the process for good when `point` is hit: it sleeps, and signals do not end it (only
/// SIGKILL does), as a process stuck in a dead lock would.
void hang_point(std::string_view point);

/// Crashes the process with SIGKILL now.
[[noreturn]] void crash_now();

/// Re-reads LVM_FAULT and zeroes the arrival counts (for tests that set it in-process).
void reset_faults();

}  // namespace lvm::util
