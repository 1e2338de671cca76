#pragma once
// Progress reporting for long loops: a single redrawn bar with rate and ETA on a terminal, plain
// lines when output goes to a file or pipe (logs stay readable), or nothing.

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace lvm::train {

enum class ProgressMode { kBar, kLines, kNone };

/// "auto" picks kBar when stderr is a terminal, else kLines. Also "bar", "lines", "none".
ProgressMode parse_progress_mode(const std::string& name);

class Progress {
 public:
  Progress(ProgressMode mode, std::ostream& out) : mode_(mode), out_(out) {}

  /// Starts a task of `total` units (batches, examples), e.g. label "epoch 3/50".
  void start(const std::string& label, int64_t total, const std::string& unit);
  /// `done` units so far; `status` is shown next to the bar (e.g. "loss 98.31").
  void update(int64_t done, const std::string& status = "");
  /// A permanent line in the middle of a task (a warning): shown in every mode, even kNone.
  void message(const std::string& line);
  /// Ends the task with one permanent line.
  void finish(const std::string& summary);

 private:
  ProgressMode mode_;
  std::ostream& out_;
  std::string label_, unit_;
  int64_t total_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

/// "1:02:03" / "2:03".
std::string format_duration(double seconds);

}  // namespace lvm::train
