// lvm info: what this build runs on — LibTorch version, devices, the BLAS and its kernels, the
// thread split, and a measured matrix-product rate.
// lvm info --tune [--config FILE] [--set key=value ...] [--steps 20] [--rounds 3]: also times the
// training step of the config's model (default: the built-in defaults, the 784-200-200-50 VAE)
// under each split of the cores between LibTorch and BLAS, and names the fastest.

#include <iostream>

#include <fmt/format.h>
#include <torch/torch.h>

#include "apps/commands.h"
#include "lvm/runtime/runtime.h"
#include "lvm/train/thread_tuning.h"

namespace lvm::app {

namespace {
struct InfoArgs {
  int64_t threads = 0;
  int64_t torch_threads = 0;
  int64_t blas_threads = 0;
  bool skip_benchmark = false;
  bool tune = false;
  std::string config_path;
  std::vector<std::string> overrides;
  int64_t steps = 20;
  int64_t rounds = 3;
};

void print_tuning(const InfoArgs& args) {
  const auto config = args.config_path.empty() ? config::parse_config("{}", "(defaults)", args.overrides)
                                               : config::load_config(args.config_path, args.overrides);
  const std::string source = args.config_path.empty() ? "the default config" : args.config_path;
  std::cout << fmt::format("tuning     {} (model.type {}, batch {}): {} rounds of {} steps per split\n",
                           source, config.model.type(), config.train.batch_size, args.rounds, args.steps);
  const auto tuning = train::tune_thread_split(config, args.steps, args.rounds);
  std::cout << "  torch + BLAS   ms/step (min-max)      examples/s\n";
  for (size_t i = 0; i < tuning.timings.size(); ++i) {
    const auto& t = tuning.timings[i];
    std::cout << fmt::format(
        "  {:>5} + {:<5} {:8.2f} ({:.2f}-{:.2f}) {:10.0f}{}{}\n", t.split.torch_threads, t.split.blas_threads,
        t.median_ms, t.min_ms, t.max_ms, 1e3 * static_cast<double>(tuning.batch_size) / t.median_ms,
        i == tuning.best ? "  <- fastest" : "", i == tuning.automatic ? "  (automatic)" : "");
  }
  const auto& best = tuning.timings[tuning.best];
  std::cout << fmt::format(
      "chose      torch_threads: {}, blas_threads: {} ({:.2f}x the automatic split's speed); "
      "put them in the config or pass --set torch_threads={} --set blas_threads={}\n",
      best.split.torch_threads, best.split.blas_threads,
      tuning.timings[tuning.automatic].median_ms / best.median_ms, best.split.torch_threads,
      best.split.blas_threads);
}
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
  auto* tune = cmd->add_flag("--tune", args->tune,
                             "Time the training step under each thread split and name the fastest");
  cmd->add_option("--config", args->config_path, "--tune: the experiment config whose model is timed")
      ->check(CLI::ExistingFile)
      ->needs(tune);
  cmd->add_option("--set", args->overrides, "--tune: override a config key (repeatable)")->needs(tune);
  cmd->add_option("--steps", args->steps, "--tune: timed steps per split and round")
      ->check(CLI::PositiveNumber)
      ->needs(tune);
  cmd->add_option("--rounds", args->rounds, "--tune: interleaved rounds (the median is reported)")
      ->check(CLI::PositiveNumber)
      ->needs(tune);
  return {cmd, [args]() {
            const auto split =
                runtime::configure_threads(args->threads, args->torch_threads, args->blas_threads);
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
            if (args->tune) print_tuning(*args);
            return kExitOk;
          }};
}

}  // namespace lvm::app
