#pragma once
// File writing that never leaves a half-written file behind: content goes to a temporary file in
// the same directory, is flushed to disk, then renamed over the target (rename is atomic on
// POSIX file systems), so a reader sees the old file or the new one.

#include <functional>
#include <stdexcept>
#include <string>

namespace lvm::util {

class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Writes `content` to `path` atomically. Throws IoError naming the path and the system error.
void write_file_atomic(const std::string& path, const std::string& content);

/// Calls `write(temporary_path)` to produce the file, then fsyncs and renames it to `path`. On any
/// failure the temporary file is removed and `path` is untouched.
void replace_file_atomic(const std::string& path, const std::function<void(const std::string&)>& write);

/// Writes `content` to `file` in place (no rename), checking every write and the close; errors
/// name `name_in_errors` (default: `file`). For the callback of replace_file_atomic, where `file` is
/// the temporary and the message should name the target.
void write_whole_file(const std::string& file, const std::string& content,
                      const std::string& name_in_errors = "");

/// Reads a whole file. Throws IoError naming the path when it cannot.
std::string read_text_file(const std::string& path);

}  // namespace lvm::util
