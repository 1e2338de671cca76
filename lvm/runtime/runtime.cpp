#include "lvm/runtime/runtime.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <thread>
#include <vector>

#include <ATen/ThreadLocalState.h>
#include <torch/torch.h>

namespace lvm::runtime {
namespace {

// OpenBLAS's C entry points, looked up at run time: the BLAS behind libblas.so.3 is chosen by
// Debian's alternatives system, not at link time.
using GetCharFn = char* (*)();
using GetIntFn = int (*)();
using SetIntFn = void (*)(int);

template <typename Fn>
Fn openblas_symbol(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

// The OpenBLAS core type this CPU can run, best first; empty when nothing better than the
// generic kernels applies.
std::string best_core_for_this_cpu() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  if (__builtin_cpu_supports("avx")) return "Sandybridge";
#endif
  return "";
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

void ensure_blas_environment(int argc, char** argv) {
  (void)argc;
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user's choice, or already done
  auto corename = openblas_symbol<GetCharFn>("openblas_get_corename");
  if (corename == nullptr) return;  // not OpenBLAS
  const std::string wanted = best_core_for_this_cpu();
  if (wanted.empty() || lower(corename()) == lower(wanted)) return;
  // Re-executing is the only way: OpenBLAS read its environment in its load-time constructor.
  setenv("OPENBLAS_CORETYPE", wanted.c_str(), 1);
  execv("/proc/self/exe", argv);
  // execv only returns on failure; carry on with the kernels OpenBLAS chose.
}

BlasInfo blas_info() {
  BlasInfo info;
  auto config = openblas_symbol<GetCharFn>("openblas_get_config");
  if (config != nullptr) {
    info.library = "OpenBLAS";
    info.config = config();
    if (auto core = openblas_symbol<GetCharFn>("openblas_get_corename")) info.core = core();
    if (auto threads = openblas_symbol<GetIntFn>("openblas_get_num_threads")) info.threads = threads();
    return info;
  }
  // The reference BLAS exports only the Fortran BLAS routines; Debian's build is in .../blas/.
  Dl_info where{};
  void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
  if (sgemm != nullptr && dladdr(sgemm, &where) != 0 && where.dli_fname != nullptr &&
      std::strstr(where.dli_fname, "/blas/") != nullptr) {
    info.library = "reference BLAS";
    info.config = where.dli_fname;
  } else {
    info.library = "unknown";
  }
  return info;
}

ThreadSplit configure_threads(int64_t threads, int64_t torch_threads, int64_t blas_threads) {
  TORCH_CHECK(threads >= 0 && torch_threads >= 0 && blas_threads >= 0,
              "thread counts must be >= 0, got threads=", threads, ", torch_threads=", torch_threads,
              ", blas_threads=", blas_threads);
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const int total = threads == 0 ? cores : static_cast<int>(threads);
  ThreadSplit split;
  split.blas_threads = blas_threads > 0 ? static_cast<int>(blas_threads) : total;
  // With more than two cores both pools may use all of them; the overlap then costs little.
  split.torch_threads = torch_threads > 0 ? static_cast<int>(torch_threads) : (total <= 2 ? 1 : total);
  torch::set_num_threads(split.torch_threads);
  // Looked up once: dlsym walks every loaded library (2 % of an evaluation when done per call).
  static const auto set = openblas_symbol<SetIntFn>("openblas_set_num_threads");
  if (set != nullptr) set(split.blas_threads);
  return split;
}

int64_t threads_of_process(int64_t threads, int processes) {
  if (threads != 0 || processes <= 1) return threads;
  const int64_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max<int64_t>(1, cores / processes);
}

ThreadSplit current_split() {
  ThreadSplit split;
  split.torch_threads = torch::get_num_threads();
  static const auto get = openblas_symbol<GetIntFn>("openblas_get_num_threads");
  split.blas_threads = get != nullptr ? std::max(get(), 1) : 1;
  return split;
}

SingleThreadedPools::SingleThreadedPools() : previous_(current_split()) { configure_threads(0, 1, 1); }

SingleThreadedPools::~SingleThreadedPools() {
  configure_threads(0, previous_.torch_threads, previous_.blas_threads);
}

void run_workers(int workers, const std::function<void(int worker)>& work) {
  TORCH_CHECK(workers >= 1, "run_workers: workers must be >= 1, got ", workers);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers));
  const at::ThreadLocalState caller_state;
  const auto guarded = [&](int w) {
    try {
      const at::ThreadLocalStateGuard state(caller_state);
      work(w);
    } catch (...) {
      errors[static_cast<size_t>(w)] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  try {
    for (int w = 1; w < workers; ++w) threads.emplace_back(guarded, w);
  } catch (...) {
    // A thread that could not start: let those that did finish before reporting it.
    for (auto& t : threads) t.join();
    throw;
  }
  guarded(0);
  for (auto& t : threads) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

torch::Device resolve_device(const std::string& name) {
  if (name == "auto")
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available()) {
      throw std::invalid_argument("device '" + name +
                                  "' requested, but this LibTorch build or machine has no CUDA "
                                  "(build against a CUDA LibTorch, or use device: cpu)");
    }
    int index = 0;
    if (name.size() > 5) {
      const std::string digits = name.substr(5);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
        throw std::invalid_argument("device '" + name + "': expected cuda:N with N a GPU index");
      }
      index = std::stoi(digits);
    }
    const auto count = static_cast<int>(torch::cuda::device_count());
    if (index >= count) {
      throw std::invalid_argument("device '" + name + "': only " + std::to_string(count) + " CUDA device(s)");
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw std::invalid_argument("device '" + name + "': expected auto, cpu, cuda or cuda:N");
}

double measure_sgemm_gflops(int64_t n, int repeats) {
  torch::NoGradGuard no_grad;
  auto a = torch::randn({n, n});
  auto b = torch::randn({n, n});
  auto c = torch::mm(a, b);  // warm-up: thread pools, page faults
  double best = 0.0;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    c = torch::mm(a, b);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, 2.0 * static_cast<double>(n * n * n) / seconds / 1e9);
  }
  return best;
}

}  // namespace lvm::runtime
