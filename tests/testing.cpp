#include "tests/testing.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <vector>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "lvm/data/idx.h"
#include "lvm/models/vae/vae_config.h"

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

namespace {

// The binary as user nobody can run it: the build tree may sit where nobody cannot reach it (under
// /root, mode 700, on a fresh machine), so a copy in a world-readable directory of its own.
const std::string& binary_for_nobody() {
  static const TempDir dir;
  static const std::string copy = [] {
    namespace fs = std::filesystem;
    const auto path = dir.file("lvm");
    fs::copy_file(LVM_BINARY, path, fs::copy_options::overwrite_existing);
    fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    return path;
  }();
  return copy;
}

}  // namespace

CommandResult run_lvm(const std::string& args, const RunOptions& options) {
  const bool drop_root = options.drop_root && ::geteuid() == 0;
  const std::string command =
      (drop_root ? binary_for_nobody() : std::string(LVM_BINARY)) + " " + args + " 2>&1";
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    ::close(fds[0]);
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[1]);
    if (options.file_size_limit >= 0) {
      const rlimit limit{static_cast<rlim_t>(options.file_size_limit),
                         static_cast<rlim_t>(options.file_size_limit)};
      ::setrlimit(RLIMIT_FSIZE, &limit);
      ::signal(SIGXFSZ, SIG_IGN);  // inherited through exec: write() then fails with EFBIG
    }
    if (drop_root) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)
        ::_exit(kCannotDropRoot);
    }
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  CommandResult result;
  std::array<char, 4096> buffer{};
  for (ssize_t n; (n = ::read(fds[0], buffer.data(), buffer.size())) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    result.output.append(buffer.data(), static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

bool running_as_root() { return ::geteuid() == 0; }

std::map<std::string, std::string> read_tree(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file())
      files[std::filesystem::relative(entry.path(), dir).string()] = read_file(entry.path().string());
  }
  return files;
}

config::ExperimentConfig tiny_vae_config(const std::string& data_dir, int64_t epochs) {
  config::ExperimentConfig c;
  c.name = "tiny";
  c.device = "cpu";
  c.threads = 1;
  c.model.get<VaeConfig>().latent_dim = 2;
  c.model.get<VaeConfig>().encoder.hidden = {16};
  c.model.get<VaeConfig>().decoder.hidden = {16};
  c.data.path = data_dir;
  c.data.validation_size = 100;
  c.train.epochs = epochs;
  c.train.batch_size = 50;
  c.train.lr = 3e-3;
  c.output.progress = "none";
  c.output.image_every = 0;
  return c;
}

std::vector<std::vector<std::string>> csv_cells(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> cells;
    std::istringstream parts(line);
    for (std::string cell; std::getline(parts, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    rows.push_back(cells);
  }
  return rows;
}

std::string tiny_vae_yaml(const std::string& data_dir, int64_t epochs) {
  return config::to_yaml(tiny_vae_config(data_dir, epochs));
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

std::string python_with_torch() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("LVM_PYTHON")) candidates.emplace_back(env);
  candidates.insert(candidates.end(), {"python3", "/usr/bin/python3"});
  for (const auto& python : candidates) {
    if (std::system((python + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0) return python;
  }
  return "";
}

CommandResult run_shell(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("run_shell: cannot start: " + command);
  std::array<char, 4096> buffer{};
  for (size_t n; (n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0;)
    result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace lvm::testing
