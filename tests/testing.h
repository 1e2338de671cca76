#pragma once
// Helpers shared by the tests: scratch directories and running the lvm binary.

#include <cstdint>
#include <string>

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

/// Writes an MNIST-style data set (the four IDX files) to `dir`: 8x8 images drawn from a few
/// prototype patterns with pixel noise, so that a small model has something to learn.
void write_tiny_mnist(const std::string& dir, int64_t n_train, int64_t n_test, uint64_t seed = 0);

/// Reads a whole file; empty string if it does not exist.
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

}  // namespace lvm::testing
