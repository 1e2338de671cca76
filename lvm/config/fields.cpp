#include "lvm/config/fields.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace lvm::config {

bool Range::contains(double x) const {
  const bool above = lo_open ? x > lo : x >= lo;
  const bool below = hi_open ? x < hi : x <= hi;
  return above && below;
}

std::string Range::describe() const {
  const bool has_lo = std::isfinite(lo);
  const bool has_hi = std::isfinite(hi);
  if (has_lo && has_hi) {
    return fmt::format("in {}{}, {}{}", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
  }
  if (has_lo) return fmt::format("{} {}", lo_open ? ">" : ">=", lo);
  if (has_hi) return fmt::format("{} {}", hi_open ? "<" : "<=", hi);
  return "";
}

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

Range any_number() { return Range{}; }
Range at_least(double lo) { return Range{lo, kInf, false, false}; }
Range greater_than(double lo) { return Range{lo, kInf, true, false}; }
Range open_interval(double lo, double hi) { return Range{lo, hi, true, true}; }
Range left_open_interval(double lo, double hi) { return Range{lo, hi, true, false}; }
Range closed_interval(double lo, double hi) { return Range{lo, hi, false, false}; }

StringRule any_string() { return StringRule{}; }

StringRule non_empty() {
  return {[](const std::string& s) { return !s.empty(); }, "a non-empty string"};
}

StringRule one_of(const std::vector<std::string>& choices) {
  return {[choices](const std::string& s) {
            return std::find(choices.begin(), choices.end(), s) != choices.end();
          },
          fmt::format("one of {}", fmt::join(choices, "|"))};
}

}  // namespace lvm::config
