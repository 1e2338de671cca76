#pragma once
// Helpers shared by the tests: scratch directories and running the lvm binary.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lvm/config/config.h"

namespace lvm::testing {

/// A fresh empty directory under the system temp dir, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

/// Runs the built `lvm` binary with `args` (a shell-quoted string) and captures its output.
CommandResult run_lvm(const std::string& args);

/// How run_lvm may restrict the child, to provoke I/O errors without root.
struct RunOptions {
  /// RLIMIT_FSIZE in bytes (-1: unchanged), with SIGXFSZ ignored, so that a write past it fails
  /// with EFBIG as on a full disk.
  int64_t file_size_limit = -1;
  /// When the tests run as root (where permission bits do not stop writes), run the child as
  /// user and group nobody (65534), so that a directory it does not own is unwritable.
  /// (The binary then runs from a copy that nobody can reach.)
  bool drop_root = false;
};
/// run_lvm's exit code when the switch to nobody itself failed (no such user id in this kernel's
/// namespace, say): a test that needs it cannot run here.
constexpr int kCannotDropRoot = 125;
CommandResult run_lvm(const std::string& args, const RunOptions& options);

bool running_as_root();

/// Every regular file under `dir` (recursively): path relative to `dir` -> content. Compare two
/// of them to check that a command left a directory byte for byte as it was.
std::map<std::string, std::string> read_tree(const std::string& dir);

/// A tiny VAE experiment: 8x8 images from write_tiny_mnist in `data_dir` (100 held out for
/// validation), 2-D latent, [16] hidden, batches of 50, Adam 3e-3, CPU, one thread, no progress
/// output or pictures. Trains in about a second; tests change what they need.
config::ExperimentConfig tiny_vae_config(const std::string& data_dir, int64_t epochs = 2);

/// Splits CSV text into rows of cells (no quoting: what lvm writes has none); a trailing comma
/// gives an empty last cell.
std::vector<std::vector<std::string>> csv_cells(const std::string& text);

/// tiny_vae_config as YAML (every key), for the CLI.
std::string tiny_vae_yaml(const std::string& data_dir, int64_t epochs = 2);

/// Writes an MNIST-style data set (the four IDX files) to `dir`: 8x8 images drawn from a few
/// prototype patterns with pixel noise, so that a small model has something to learn.
void write_tiny_mnist(const std::string& dir, int64_t n_train, int64_t n_test, uint64_t seed = 0);

/// A python3 that can import torch: $LVM_PYTHON, else python3 on PATH, else Debian's; empty when
/// none can (tests of the Python side then skip, saying so).
std::string python_with_torch();

/// Runs `command` through the shell: its exit code (-1 when it did not exit) and stdout + stderr.
CommandResult run_shell(const std::string& command);

/// Reads a whole file; empty string if it does not exist.
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

}  // namespace lvm::testing
