#include "lvm/runtime/memory.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include <fmt/format.h>

namespace lvm::runtime {
namespace {

// A one-number file such as /sys/fs/cgroup/memory.max; nullopt if absent or "max".
std::optional<int64_t> read_number(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<int64_t> mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    int64_t kib = 0;
    if (fields >> key >> kib && key == "MemAvailable:") return kib * 1024;
  }
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> available_memory(const torch::Device& device) {
  if (!device.is_cpu()) return std::nullopt;
  std::optional<int64_t> available = mem_available();
  const auto limit = read_number("/sys/fs/cgroup/memory.max");
  const auto used = read_number("/sys/fs/cgroup/memory.current");
  if (limit && used) {
    const int64_t headroom = std::max<int64_t>(0, *limit - *used);
    available = available ? std::min(*available, headroom) : headroom;
  }
  return available;
}

int64_t mlp_bytes_per_row(int64_t in, const std::vector<int64_t>& hidden, int64_t out) {
  int64_t floats = in + 2 * out;
  for (const int64_t h : hidden) floats += 2 * h;
  return floats * static_cast<int64_t>(sizeof(float));
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 6) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[unit]);
}

}  // namespace lvm::runtime
