#pragma once
// The process-wide set-up that decides LibTorch's speed on a CPU: which OpenBLAS kernels run,
// how the cores are split between LibTorch's own threads and BLAS threads, and which device a
// config's `device` key means.

#include <cstdint>
#include <functional>
#include <string>

#include <torch/types.h>

namespace lvm::runtime {

/// OpenBLAS picks its kernels when it loads, from OPENBLAS_CORETYPE or its own CPU detection, and
/// 0.3.21 misdetects recent CPUs (falling back to its slowest kernels). When OpenBLAS is the BLAS,
/// OPENBLAS_CORETYPE is unset and the detected core differs from what this CPU supports, this sets
/// the variable and re-executes the program (once), so the right kernels load before main runs.
/// A user's own OPENBLAS_CORETYPE is always respected.
void ensure_blas_environment(int argc, char** argv);

struct BlasInfo {
  std::string library;  // "OpenBLAS", "reference BLAS" or "unknown"
  std::string core;     // OpenBLAS's core name, empty otherwise
  std::string config;   // OpenBLAS's build configuration string
  int threads = 0;      // BLAS threads (0 when unknown)
};
BlasInfo blas_info();

struct ThreadSplit {
  int torch_threads = 1;  // LibTorch intra-op threads (elementwise kernels, reductions)
  int blas_threads = 1;   // threads inside one BLAS call
};

/// Splits `threads` cores (0: all) between LibTorch's intra-op pool and BLAS, and applies it. The
/// two pools spin on the same cores when they overlap, so on machines with two cores or fewer the
/// automatic split gives BLAS every core and LibTorch one thread (measured: a training step took
/// 13 ms with 1+2 threads on 2 cores, 47 ms with 2+2). torch_threads / blas_threads > 0 override
/// either share.
ThreadSplit configure_threads(int64_t threads, int64_t torch_threads = 0, int64_t blas_threads = 0);

/// A thread budget for one of `processes` that share this machine (data-parallel ranks):
/// `threads` itself, except 0 (all cores), which becomes this process's share of the cores.
int64_t threads_of_process(int64_t threads, int processes);

/// The split in force: LibTorch's intra-op threads and BLAS's (1 when the BLAS cannot say).
ThreadSplit current_split();

/// Work split into independent pieces run on threads of their own (run_workers), each with its
/// own matrix products (the samples of an importance-sampling chunk), keeps every core busy,
/// elementwise passes included, when LibTorch and BLAS are single-threaded inside each piece.
/// (Measured on 2 cores: two threads each calling single-threaded sgemm did 2.0x the work of one
/// such thread; one caller with 2 BLAS threads leaves its elementwise passes on one core.) While
/// this lives both pools have one thread; the previous split comes back when it ends. The split
/// is process-wide: not for use while other threads run LibTorch work.
class SingleThreadedPools {
 public:
  SingleThreadedPools();
  ~SingleThreadedPools();
  SingleThreadedPools(const SingleThreadedPools&) = delete;
  SingleThreadedPools& operator=(const SingleThreadedPools&) = delete;

 private:
  ThreadSplit previous_;
};

/// Runs work(0), ..., work(workers − 1) at once (workers >= 1), work(0) on the calling thread and
/// each other on a thread of its own, and returns when all are done; if any threw, the exception
/// of the lowest-numbered one is rethrown. LibTorch's thread-local state (grad mode and the like)
/// is the caller's in every worker. (Not at::parallel_for: in code built without OpenMP, as lvm
/// is, that runs everything on the calling thread.)
void run_workers(int workers, const std::function<void(int worker)>& work);

/// Resolves "auto" | "cpu" | "cuda" | "cuda:N". Throws std::invalid_argument with a clear message
/// when CUDA is asked for on a build or machine without it, or the name is unknown.
torch::Device resolve_device(const std::string& name);

/// Measured single-precision matrix-product rate in GFLOP/s (n x n by n x n, best of `repeats`).
double measure_sgemm_gflops(int64_t n = 1024, int repeats = 5);

}  // namespace lvm::runtime
