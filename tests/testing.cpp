#include "tests/testing.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "lvm/data/idx.h"

namespace lvm::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "lvm_test_XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

CommandResult run_lvm(const std::string& args) {
  const std::string command = std::string(LVM_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed: " + command);
  CommandResult result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

void write_tiny_mnist(const std::string& dir, int64_t n_train, int64_t n_test, uint64_t seed) {
  std::filesystem::create_directories(dir);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  // Four prototypes: horizontal bar, vertical bar, diagonal, box.
  auto prototypes = torch::zeros({4, 8, 8});
  prototypes[0].slice(0, 3, 5).fill_(1);
  prototypes[1].slice(1, 3, 5).fill_(1);
  for (int i = 0; i < 8; ++i) prototypes[2][i][i] = 1;
  prototypes[3].slice(0, 1, 7).slice(1, 1, 7).fill_(1);
  prototypes[3].slice(0, 2, 6).slice(1, 2, 6).fill_(0);
  const auto make = [&](int64_t n, const std::string& prefix) {
    const auto labels = torch::randint(0, 4, {n}, generator, torch::kLong);
    const auto clean = prototypes.index_select(0, labels);
    const auto noise = torch::rand({n, 8, 8}, generator) * 0.3;
    const auto images = ((clean * 0.7 + noise) * 255).clamp(0, 255).to(torch::kUInt8);
    lvm::data::write_idx(dir + "/" + prefix + "-images-idx3-ubyte", images);
    lvm::data::write_idx(dir + "/" + prefix + "-labels-idx1-ubyte", labels.to(torch::kUInt8));
  };
  make(n_train, "train");
  make(n_test, "t10k");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

}  // namespace lvm::testing
