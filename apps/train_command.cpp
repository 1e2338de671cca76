// lvm train CONFIG [--set key=value ...] [--run-dir DIR] [--overwrite] [--keep-epochs 1,4,13]
// lvm train --resume RUN_DIR [--set train.epochs=N] [--keep-epochs ...]
// Either with --nproc N (N local data-parallel ranks), or as one rank of a job the environment
// describes (torchrun's variables, lvm/distributed/world.h).

#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "apps/commands.h"
#include "apps/parallel_ranks.h"
#include "lvm/config/config.h"
#include "lvm/train/stop_signal.h"
#include "lvm/train/trainer.h"

namespace lvm::app {

namespace {
struct TrainArgs {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string run_dir;
  std::string resume_dir;
  bool overwrite = false;
  std::vector<int64_t> keep_epochs;
  int nproc = 0;  // 0: no launcher
};

// One rank of a data-parallel job: joins its group; rank 0 writes, the others keep quiet.
void join_as_rank(train::TrainRequest& request, const distributed::World& world) {
  request.parallel = join_group(world, request.config.distributed.timeout_s);
  request.writes = world.rank == 0;
  if (world.rank != 0) {
    static std::ostream quiet(nullptr);  // its errors still reach stderr through main()
    request.log = &quiet;
  }
}
}  // namespace

Command add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train a model from a YAML experiment config");
  cmd->add_option("config", args->config_path, "Experiment config (YAML), e.g. configs/vae_mnist.yaml");
  cmd->add_option("--set", args->overrides, "Override a config key, e.g. --set train.epochs=5 (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--run-dir", args->run_dir, "Run directory (default: output.run_dir, else runs/<name>)");
  cmd->add_option("--resume", args->resume_dir,
                  "Continue the run in this directory from its last checkpoint");
  cmd->add_flag("--overwrite", args->overwrite, "Replace a run directory that already holds a run");
  cmd->add_option("--keep-epochs", args->keep_epochs,
                  "Also keep checkpoints/epoch_NNNN.pt after these epochs, e.g. 1,4,13,40 (learning curves)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  cmd->add_option("--nproc", args->nproc,
                  "Train data-parallel with N local processes (Gloo on loopback); the union of their batches "
                  "is the one-process batch")
      ->check(CLI::PositiveNumber);

  return {
      cmd, [args]() {
        train::TrainRequest request;
        if (!args->resume_dir.empty()) {
          if (!args->config_path.empty()) {
            throw UsageError(
                "give either CONFIG or --resume RUN_DIR, not both (a resumed run uses its own config.yaml)");
          }
          if (!args->run_dir.empty()) throw UsageError("--run-dir cannot be combined with --resume");
          if (args->overwrite) throw UsageError("--overwrite cannot be combined with --resume");
          const auto config_file = (std::filesystem::path(args->resume_dir) / "config.yaml").string();
          if (!std::filesystem::exists(config_file)) {
            throw UsageError("--resume " + args->resume_dir + ": no run there (" + config_file +
                             " not found)");
          }
          for (const auto& o : args->overrides) {
            if (o.rfind("train.epochs=", 0) != 0) {
              throw UsageError("--set " + o + ": only train.epochs may change when resuming");
            }
          }
          request.config = config::load_config(config_file, args->overrides);
          request.run_dir = args->resume_dir;
          request.resume = true;
        } else {
          if (args->config_path.empty())
            throw UsageError("missing CONFIG (or --resume RUN_DIR); see lvm train --help");
          request.config = config::load_config(args->config_path, args->overrides);
          request.run_dir = args->run_dir.empty() ? request.config.resolved_run_dir() : args->run_dir;
          request.overwrite = args->overwrite;
        }
        request.keep_epochs = args->keep_epochs;
        const auto world = world_for_command(args->nproc);
        if (args->nproc > 0) {
          // The config and the run directory are checked once, here, before any rank starts.
          if (!request.resume) train::check_run_dir(request);
          return launch_ranks(args->nproc, request.config.distributed.timeout_s);
        }
        if (world) join_as_rank(request, *world);
        // Ctrl-C / SIGTERM: stop at the next step boundary with a checkpoint (see stop_signal.h);
        // the gradient trainer and the mixture's own fit (EM steps, gradient epochs) both look.
        train::install_stop_handlers();
        try {
          const auto summary = train::run_training(request);
          if (request.writes) std::cout << summary.dump(0);  // one line, with its newline
        } catch (const train::TrainingInterrupted& e) {
          std::cerr << "lvm train: " << e.what() << '\n';
          return 128 + e.signal;  // the shell's convention for "ended by signal N"
        }
        return kExitOk;
      }};
}

}  // namespace lvm::app
