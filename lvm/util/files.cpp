#include "lvm/util/files.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lvm/util/fault.h"

namespace lvm::util {
namespace {

std::string temporary_name(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

[[noreturn]] void fail(const std::string& path, const std::string& what, int err) {
  throw IoError(path + ": " + what + ": " + std::strerror(err));
}

// Flushes a written file to disk. A full disk or a quota can surface only here (delayed
// allocation), so its failure is an error like a failed write.
void fsync_file(const std::string& path, const std::string& target) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(target, "cannot reopen the temporary file to flush it", errno);
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail(target, "cannot flush to disk (fsync)", err);
  }
  if (::close(fd) != 0) fail(target, "cannot flush to disk (close)", errno);
}

// Makes a rename durable. Best effort: some file systems refuse fsync on a directory (EINVAL),
// and the file itself is complete by then.
void fsync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// A temporary left by a process that was killed mid-write (its pid is gone) is garbage: remove it
// so crashes do not pile up files next to `path`.
void remove_stale_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp.";
  std::error_code ec;
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string pid_text = name.substr(prefix.size());
    char* end = nullptr;
    const long pid = std::strtol(pid_text.c_str(), &end, 10);
    if (pid_text.empty() || *end != '\0' || pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove(entry.path(), ec);
  }
}

}  // namespace

void replace_file_atomic(const std::string& path, const std::function<void(const std::string&)>& write) {
  remove_stale_temporaries(path);
  const std::string tmp = temporary_name(path);
  const auto discard = [&] {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
  };
  try {
    write(tmp);
    fsync_file(tmp, path);
  } catch (...) {
    discard();
    throw;
  }
  // Crash tests: a kill while the bytes are still going out, and one just before the rename.
  const std::string name = std::filesystem::path(path).filename().string();
  if (fault_hits("partial_write:" + name)) {
    std::error_code ignored;
    std::filesystem::resize_file(tmp, std::filesystem::file_size(tmp, ignored) / 2, ignored);
    crash_now();
  }
  crash_point("before_rename:" + name);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    discard();
    fail(path, "cannot replace file", err);
  }
  const auto parent = std::filesystem::path(path).parent_path();
  fsync_directory(parent.empty() ? "." : parent.string());
}

void write_whole_file(const std::string& file, const std::string& content,
                      const std::string& name_in_errors) {
  const std::string& name = name_in_errors.empty() ? file : name_in_errors;
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail(name, "cannot write", errno);
  const char* data = content.data();
  size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      fail(name, "write failed", err);
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  if (::close(fd) != 0) fail(name, "write failed (close)", errno);
}

void write_file_atomic(const std::string& path, const std::string& content) {
  replace_file_atomic(path, [&](const std::string& tmp) { write_whole_file(tmp, content, path); });
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace lvm::util
