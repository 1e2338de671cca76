#include "lvm/runtime/memory.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include <fmt/format.h>
#if LVM_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

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

// Free memory on a CUDA device as the driver reports it (cudaMemGetInfo). Memory that LibTorch's
// caching allocator holds but does not use counts as taken: an underestimate, and a small one
// before a command has allocated anything. Only a build against a CUDA LibTorch can ask
// (LVM_WITH_CUDA, set by CMakeLists.txt); elsewhere no CUDA device exists to ask about.
std::optional<int64_t> cuda_free_memory(const torch::Device& device) {
#if LVM_WITH_CUDA
  const c10::cuda::CUDAGuard on_device(device);
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the error so that LibTorch's next call does not see it
    return std::nullopt;
  }
  return static_cast<int64_t>(free_bytes);
#else
  (void)device;
  return std::nullopt;
#endif
}

}  // namespace

std::optional<int64_t> available_memory(const torch::Device& device) {
  if (device.is_cuda()) return cuda_free_memory(device);
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

double mlp_weights(int64_t in, const std::vector<int64_t>& hidden, int64_t out) {
  double total = 0;
  int64_t from = in;
  for (const int64_t h : hidden) {
    total += static_cast<double>(from + 1) * static_cast<double>(h);
    from = h;
  }
  return total + static_cast<double>(from + 1) * static_cast<double>(out);
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
