#pragma once
// The `lvm` subcommands. Each file registers one subcommand on the app and returns the function
// that runs it once the command line is parsed.

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace lvm::app {

/// Exit codes shared by every subcommand.
constexpr int kExitOk = 0;
constexpr int kExitRuntimeError = 1;
constexpr int kExitUsageError = 2;

/// Thrown by a command for a usage or configuration error (exit code 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A registered subcommand and what runs it once the command line is parsed.
struct Command {
  CLI::App* cli = nullptr;
  std::function<int()> run;
};

/// The command line as main() received it (for `lvm train --nproc`, which runs it again per rank).
void set_command_line(int argc, char** argv);
const std::vector<std::string>& command_line();

Command add_train_command(CLI::App& app);
Command add_info_command(CLI::App& app);
Command add_export_command(CLI::App& app);
Command add_sample_command(CLI::App& app);
Command add_encode_command(CLI::App& app);
Command add_eval_command(CLI::App& app);

}  // namespace lvm::app
