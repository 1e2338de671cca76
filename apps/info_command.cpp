// lvm info: what this build runs on — LibTorch version, devices, the BLAS and its kernels, the
// thread split, and a measured matrix-product rate.

#include <iostream>

#include <fmt/format.h>
#include <torch/torch.h>

#include "apps/commands.h"
#include "lvm/runtime/runtime.h"

namespace lvm::app {

namespace {
struct InfoArgs {
  int64_t threads = 0;
  int64_t torch_threads = 0;
  int64_t blas_threads = 0;
  bool skip_benchmark = false;
};
}  // namespace

Command add_info_command(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  auto* cmd = app.add_subcommand("info", "Print LibTorch, device, BLAS and threading information");
  cmd->add_option("--threads", args->threads, "Total threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--torch-threads", args->torch_threads, "LibTorch intra-op threads (0: automatic)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--blas-threads", args->blas_threads, "BLAS threads (0: automatic)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-bench", args->skip_benchmark, "Skip the sgemm measurement");
  return {cmd, [args]() {
            const auto split = runtime::configure_threads(args->threads, args->torch_threads, args->blas_threads);
            const auto blas = runtime::blas_info();
            std::cout << fmt::format("lvm        {}\n", LVM_VERSION);
            std::cout << fmt::format("LibTorch   {}\n", TORCH_VERSION);
            std::cout << fmt::format("CUDA       {}\n",
                                     torch::cuda::is_available()
                                         ? fmt::format("{} device(s)", torch::cuda::device_count())
                                         : std::string("not available"));
            std::cout << fmt::format("BLAS       {}{}\n", blas.library,
                                     blas.core.empty() ? "" : " (core " + blas.core + ")");
            if (!blas.config.empty()) std::cout << fmt::format("           {}\n", blas.config);
            const char* coretype = std::getenv("OPENBLAS_CORETYPE");
            std::cout << fmt::format("OPENBLAS_CORETYPE {}\n", coretype != nullptr ? coretype : "(unset)");
            std::cout << fmt::format("threads    {} LibTorch intra-op + {} BLAS ({} cores)\n",
                                     split.torch_threads, split.blas_threads,
                                     std::thread::hardware_concurrency());
            if (!args->skip_benchmark) {
              std::cout << fmt::format("sgemm      {:.1f} GFLOP/s (1024x1024, best of 5)\n",
                                       runtime::measure_sgemm_gflops());
            }
            return kExitOk;
          }};
}

}  // namespace lvm::app
