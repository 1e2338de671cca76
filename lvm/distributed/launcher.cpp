#include "lvm/distributed/launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

namespace lvm::distributed {
namespace {

volatile std::sig_atomic_t launcher_signal = 0;
volatile std::sig_atomic_t launcher_signal_count = 0;

extern "C" void on_launcher_signal(int signal) {
  launcher_signal = signal;
  launcher_signal_count = launcher_signal_count + 1;
}

// One rank's process and the two pipes its output comes through.
struct Rank {
  int index = 0;
  pid_t pid = -1;
  bool running = false;
  int exit_code = 0;
  struct Stream {
    int fd = -1;
    std::string pending;  // a line not yet complete
    bool is_stdout = true;
  } out, err;
};

// A child: its own process group (a terminal's Ctrl-C reaches the launcher, which forwards it),
// SIGTERM when the launcher dies, the torchrun variables, then exec.
[[noreturn]] void exec_rank(const LaunchRequest& request, const std::string& executable, int rank, int port,
                            int out_fd, int err_fd) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  ::dup2(out_fd, STDOUT_FILENO);
  ::dup2(err_fd, STDERR_FILENO);
  const std::string n = std::to_string(request.nproc), r = std::to_string(rank);
  ::setenv("RANK", r.c_str(), 1);
  ::setenv("LOCAL_RANK", r.c_str(), 1);
  ::setenv("WORLD_SIZE", n.c_str(), 1);
  ::setenv("LOCAL_WORLD_SIZE", n.c_str(), 1);
  ::setenv("MASTER_ADDR", "127.0.0.1", 1);
  ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
  ::unsetenv("TORCHELASTIC_USE_AGENT_STORE");
  std::vector<char*> argv;
  for (const auto& a : request.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(executable.c_str(), argv.data());
  const std::string message = fmt::format("lvm: cannot run {}: {}\n", executable, std::strerror(errno));
  [[maybe_unused]] const auto ignored = ::write(STDERR_FILENO, message.data(), message.size());
  ::_exit(127);
}

void write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// Forwards the complete lines of `data` (and all of it at end of file), prefixed by rank except
// for rank 0's standard output.
void forward(Rank& rank, Rank::Stream& stream, const char* data, size_t size, bool end) {
  stream.pending.append(data, size);
  const std::string prefix = rank.index == 0 && stream.is_stdout ? "" : fmt::format("[rank {}] ", rank.index);
  size_t start = 0;
  for (size_t newline; (newline = stream.pending.find('\n', start)) != std::string::npos; start = newline + 1)
    write_all(stream.is_stdout ? STDOUT_FILENO : STDERR_FILENO,
              prefix + stream.pending.substr(start, newline + 1 - start));
  stream.pending.erase(0, start);
  if (end && !stream.pending.empty()) {
    write_all(stream.is_stdout ? STDOUT_FILENO : STDERR_FILENO, prefix + stream.pending + "\n");
    stream.pending.clear();
  }
}

void signal_running(std::vector<Rank>& ranks, int signal) {
  for (auto& r : ranks)
    if (r.running) ::kill(r.pid, signal);
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status))
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return fmt::format("exited with code {}", WEXITSTATUS(status));
}

}  // namespace

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open a socket: {}", std::strerror(errno)));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!ok)
    throw std::runtime_error(fmt::format("cannot find a free port on 127.0.0.1: {}", std::strerror(errno)));
  return ntohs(address.sin_port);
}

int launch_local_ranks(const LaunchRequest& request) {
  if (request.nproc < 1)
    throw std::invalid_argument(fmt::format("--nproc {}: needs at least 1", request.nproc));
  if (request.argv.empty()) throw std::invalid_argument("launch_local_ranks: no command to run");
  const std::string executable = request.executable.empty()
                                     ? std::filesystem::read_symlink("/proc/self/exe").string()
                                     : request.executable;
  const int port = free_loopback_port();

  struct sigaction action {};
  action.sa_handler = on_launcher_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction previous_int {
  }, previous_term{};
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);
  launcher_signal = 0;
  launcher_signal_count = 0;

  std::vector<Rank> ranks(static_cast<size_t>(request.nproc));
  for (int i = 0; i < request.nproc; ++i) {
    int out[2], err[2];
    if (::pipe(out) != 0 || ::pipe(err) != 0) throw std::runtime_error("cannot create pipes for the ranks");
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(fmt::format("cannot start rank {}: {}", i, std::strerror(errno)));
    if (pid == 0) {
      ::close(out[0]);
      ::close(err[0]);
      exec_rank(request, executable, i, port, out[1], err[1]);
    }
    ::close(out[1]);
    ::close(err[1]);
    auto& rank = ranks[static_cast<size_t>(i)];
    rank.index = i;
    rank.pid = pid;
    rank.running = true;
    rank.out.fd = out[0];
    rank.err.fd = err[0];
    rank.err.is_stdout = false;
  }

  std::optional<int> first_failure;  // its exit code
  // When the ranks still running after a failure get SIGKILL (max: no failure yet).
  auto kill_at = std::chrono::steady_clock::time_point::max();
  int forwarded_signals = 0;
  for (;;) {
    // Signals to the launcher: the first goes to every rank, the next kills them.
    if (launcher_signal_count > forwarded_signals) {
      forwarded_signals = launcher_signal_count;
      signal_running(ranks, forwarded_signals == 1 ? launcher_signal : SIGKILL);
    }
    std::vector<pollfd> fds;
    std::vector<std::pair<Rank*, Rank::Stream*>> owners;
    for (auto& r : ranks) {
      for (Rank::Stream* s : {&r.out, &r.err}) {
        if (s->fd < 0) continue;
        fds.push_back({s->fd, POLLIN, 0});
        owners.emplace_back(&r, s);
      }
    }
    const bool any_running = std::any_of(ranks.begin(), ranks.end(), [](const Rank& r) { return r.running; });
    if (fds.empty() && !any_running) break;
    if (!fds.empty())
      ::poll(fds.data(), fds.size(), 200);
    else
      ::usleep(50 * 1000);
    for (size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buffer[8192];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      auto [rank, stream] = owners[i];
      forward(*rank, *stream, buffer, n > 0 ? static_cast<size_t>(n) : 0, n <= 0);
      if (n <= 0) {
        ::close(stream->fd);
        stream->fd = -1;
      }
    }
    // The ranks that ended since the last pass. Of several, one killed by a signal is taken as
    // the first failure: the others' errors are usually what its death caused.
    std::vector<std::pair<Rank*, int>> ended;  // with their wait status
    for (auto& r : ranks) {
      int status = 0;
      if (!r.running || ::waitpid(r.pid, &status, WNOHANG) != r.pid) continue;
      r.running = false;
      r.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
      ended.emplace_back(&r, status);
    }
    std::stable_sort(ended.begin(), ended.end(), [](const auto& a, const auto& b) {
      return WIFSIGNALED(a.second) && !WIFSIGNALED(b.second);
    });
    for (const auto& [r, status] : ended) {
      if (r->exit_code == 0 || first_failure) continue;
      first_failure = r->exit_code;
      // Stopping on request (forwarded here, or a rank that stopped on SIGINT or SIGTERM): the
      // ranks agree on the step and stop together; the writer may still be writing its
      // checkpoint, so nobody is hurried.
      if (forwarded_signals > 0 || r->exit_code == 128 + SIGINT || r->exit_code == 128 + SIGTERM) continue;
      const auto others = std::count_if(ranks.begin(), ranks.end(), [](const Rank& o) { return o.running; });
      write_all(STDERR_FILENO, fmt::format("lvm: rank {} {}{}\n", r->index, describe_status(status),
                                           others == 1  ? std::string("; stopping the other rank")
                                           : others > 1 ? fmt::format("; stopping the other {} ranks", others)
                                                        : ""));
      signal_running(ranks, SIGTERM);
      kill_at = std::chrono::steady_clock::now() + request.grace;
    }
    if (std::chrono::steady_clock::now() >= kill_at) {
      signal_running(ranks, SIGKILL);
      kill_at = std::chrono::steady_clock::time_point::max();
    }
  }
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
  return first_failure.value_or(0);
}

}  // namespace lvm::distributed
