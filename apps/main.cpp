// lvm: train, evaluate, sample and export deep latent variable models.

#include <iostream>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "apps/commands.h"
#include "lvm/config/config.h"
#include "lvm/data/idx.h"
#include "lvm/runtime/runtime.h"
#include "lvm/train/checkpoint.h"
#include "lvm/train/trainer.h"
#include "lvm/util/files.h"

int main(int argc, char** argv) {
  lvm::runtime::ensure_blas_environment(argc, argv);
  lvm::app::set_command_line(argc, argv);

  CLI::App app{"lvm: deep latent variable models on LibTorch (sample, evaluate, train, represent)", "lvm"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("lvm ") + LVM_VERSION);
  const std::vector<lvm::app::Command> commands = {
      lvm::app::add_train_command(app),  lvm::app::add_info_command(app),   lvm::app::add_export_command(app),
      lvm::app::add_sample_command(app), lvm::app::add_encode_command(app), lvm::app::add_eval_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints help / version itself with exit code 0, usage errors with a non-zero code.
    const int code = app.exit(e);
    return code == 0 ? lvm::app::kExitOk : lvm::app::kExitUsageError;
  }

  for (const auto& command : commands) {
    const auto* subcommand = command.cli;
    if (!subcommand->parsed()) continue;
    try {
      return command.run();
    } catch (const lvm::app::UsageError& e) {
      std::cerr << "lvm " << subcommand->get_name() << ": " << e.what() << '\n';
      return lvm::app::kExitUsageError;
    } catch (const lvm::config::ConfigError& e) {
      std::cerr << "lvm " << subcommand->get_name() << ": config error: " << e.what() << '\n';
      return lvm::app::kExitUsageError;
    } catch (const std::invalid_argument& e) {
      std::cerr << "lvm " << subcommand->get_name() << ": " << e.what() << '\n';
      return lvm::app::kExitUsageError;
    } catch (const c10::Error& e) {
      std::cerr << "lvm " << subcommand->get_name() << ": " << e.what_without_backtrace() << '\n';
      return lvm::app::kExitRuntimeError;
    } catch (const std::exception& e) {
      std::cerr << "lvm " << subcommand->get_name() << ": " << e.what() << '\n';
      return lvm::app::kExitRuntimeError;
    }
  }
  return lvm::app::kExitUsageError;
}
