#include "lvm/train/progress.h"

#include <unistd.h>

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace lvm::train {

ProgressMode parse_progress_mode(const std::string& name) {
  if (name == "auto") return ::isatty(STDERR_FILENO) ? ProgressMode::kBar : ProgressMode::kLines;
  if (name == "bar") return ProgressMode::kBar;
  if (name == "lines") return ProgressMode::kLines;
  if (name == "none") return ProgressMode::kNone;
  throw std::invalid_argument("output.progress: unknown mode '" + name +
                              "' (expected auto, bar, lines or none)");
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

void Progress::start(const std::string& label, int64_t total, const std::string& unit) {
  label_ = label;
  unit_ = unit;
  total_ = total;
  start_ = std::chrono::steady_clock::now();
  last_draw_ = start_ - std::chrono::seconds(1);
}

void Progress::update(int64_t done, const std::string& status) {
  if (mode_ != ProgressMode::kBar) return;
  const auto now = std::chrono::steady_clock::now();
  // Redrawing costs a write per call; ten times a second is enough for the eye.
  if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : NAN;
  constexpr int kWidth = 24;
  const int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : 0;
  out_ << fmt::format("\r{} [{}{}] {}/{} {} {:.0f} {}/s ETA {}\x1b[K", label_, std::string(filled, '#'),
                      std::string(kWidth - filled, '.'), done, total_, status, rate, unit_,
                      format_duration(eta))
       << std::flush;
}

void Progress::message(const std::string& line) {
  if (mode_ == ProgressMode::kBar) out_ << "\r\x1b[K";
  out_ << line << '\n' << std::flush;
}

void Progress::finish(const std::string& summary) {
  if (mode_ == ProgressMode::kNone) return;
  if (mode_ == ProgressMode::kBar) out_ << "\r\x1b[K";
  out_ << summary << '\n' << std::flush;
}

}  // namespace lvm::train
