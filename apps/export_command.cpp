// lvm export: a trained model as a self-contained TorchScript file that Python and C++ load
// without lvm (see lvm/export/torchscript.h for its methods and attributes).

#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apps/commands.h"
#include "lvm/export/torchscript.h"

namespace lvm::app {

namespace {
struct ExportArgs {
  std::string run_dir;
  std::string output;
  std::string checkpoint = "best";
};
}  // namespace

Command add_export_command(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand(
      "export", "Export a trained model to TorchScript (loads in Python and C++ without lvm)");
  cmd->add_option("RUN_DIR", args->run_dir, "Run directory written by `lvm train`")->required();
  cmd->add_option("-o,--output", args->output, "Output file (.pt); an existing file is replaced atomically")
      ->required();
  cmd->add_option("--checkpoint", args->checkpoint, "best, last, or the path of a checkpoint file")
      ->capture_default_str();
  return {cmd, [args]() {
            const auto result = torchscript::export_run(args->run_dir, args->checkpoint, args->output);
            std::cout << fmt::format("exported {} (epoch {}, {} weights) to {} ({} bytes)\n",
                                     result.checkpoint_path, result.epoch, result.parameters, args->output,
                                     result.bytes);
            std::cout << fmt::format("methods: {}\n", fmt::join(result.methods, ", "));
            std::cout << fmt::format(
                "load it with: python3 -c \"import torch; m = torch.jit.load('{}'); "
                "print(m.sample(16).shape)\"\n",
                args->output);
            return kExitOk;
          }};
}

}  // namespace lvm::app
