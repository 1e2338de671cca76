#include "lvm/util/fault.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

#include <unistd.h>

namespace lvm::util {
namespace {

struct FaultPlan {
  bool armed = false;
  std::string point;
  long long at = 0;     // arrival number that fires
  long long count = 0;  // arrivals so far
};

std::mutex fault_mutex;
std::atomic<bool> any_fault_armed{false};  // read without the lock on every fault point

FaultPlan read_plan() {
  FaultPlan plan;
  const char* spec = std::getenv("LVM_FAULT");
  if (spec == nullptr || *spec == '\0') return plan;
  const std::string text(spec);
  const auto at = text.rfind('@');
  char* end = nullptr;
  const long long n = at == std::string::npos ? 0 : std::strtoll(text.c_str() + at + 1, &end, 10);
  if (at == std::string::npos || at == 0 || end == nullptr || *end != '\0' || n < 1) {
    throw std::invalid_argument("LVM_FAULT='" + text + "': expected <point>@<n> with n >= 1");
  }
  // LVM_FAULT_RANK=r: only the process of rank r of a data-parallel job (its RANK) is armed.
  const char* only_rank = std::getenv("LVM_FAULT_RANK");
  const char* rank = std::getenv("RANK");
  if (only_rank != nullptr && *only_rank != '\0' && (rank == nullptr || std::string(rank) != only_rank))
    return plan;
  plan.armed = true;
  plan.point = text.substr(0, at);
  plan.at = n;
  return plan;
}

FaultPlan& plan() {
  static FaultPlan instance = [] {
    FaultPlan p = read_plan();
    any_fault_armed = p.armed;
    return p;
  }();
  return instance;
}

}  // namespace

bool fault_hits(std::string_view point) {
  static const bool plan_read = (plan(), true);  // LVM_FAULT is read at the first fault point
  (void)plan_read;
  if (!any_fault_armed.load(std::memory_order_relaxed)) return false;
  std::lock_guard<std::mutex> lock(fault_mutex);
  FaultPlan& p = plan();
  if (!p.armed || point != p.point) return false;
  return ++p.count == p.at;
}

void crash_now() {
  std::raise(SIGKILL);
  std::abort();  // not reached: SIGKILL cannot be caught
}

void crash_point(std::string_view point) {
  if (fault_hits(point)) crash_now();
}

void hang_point(std::string_view point) {
  if (!fault_hits(point)) return;
  for (;;) ::pause();  // signals are handled and ignored: a hung process
}

void reset_faults() {
  std::lock_guard<std::mutex> lock(fault_mutex);
  plan() = read_plan();
  any_fault_armed = plan().armed;
}

}  // namespace lvm::util
