#include "lvm/data/csv.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/data/idx.h"
#include "lvm/util/files.h"

namespace lvm::data {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    fields.push_back(
        trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

// The value of a whole field, non-finite values included; nullopt when it is not a number.
std::optional<double> parse_field(std::string_view field) {
  if (!field.empty() && field.front() == '+') field.remove_prefix(1);
  if (field.empty() || field.front() == '+') return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  // Out-of-range magnitudes (1e999) come back as errors: report them as non-finite.
  if (ec == std::errc::result_out_of_range && end == field.data() + field.size()) return INFINITY;
  if (ec != std::errc() || end != field.data() + field.size()) return std::nullopt;
  return value;
}

}  // namespace

torch::Tensor read_csv(const std::string& path) {
  std::string text;
  try {
    text = util::read_text_file(path);
  } catch (const util::IoError& e) {
    throw DataError(e.what());
  }
  std::vector<double> values;
  int64_t columns = -1;
  int64_t columns_line = 0;
  bool seen_content = false;
  std::string_view rest = text;
  for (int64_t line_number = 1; !rest.empty(); ++line_number) {
    const size_t newline = rest.find('\n');
    const std::string_view line = trim(rest.substr(0, newline));
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    if (line.empty() || line.front() == '#') continue;
    const auto fields = split_fields(line);
    if (!seen_content) {
      seen_content = true;
      bool any_number = false;
      for (const auto field : fields) any_number = any_number || parse_field(field).has_value();
      if (!any_number) continue;  // a header
    }
    auto fail = [&](const std::string& what) {
      throw DataError(fmt::format("{}:{}: {}", path, line_number, what));
    };
    if (columns < 0) {
      columns = static_cast<int64_t>(fields.size());
      columns_line = line_number;
    } else if (static_cast<int64_t>(fields.size()) != columns) {
      fail(fmt::format("expected {} values (as on line {}), got {}", columns, columns_line, fields.size()));
    }
    for (size_t c = 0; c < fields.size(); ++c) {
      if (fields[c].empty()) fail(fmt::format("column {}: empty value", c + 1));
      const auto value = parse_field(fields[c]);
      if (!value) fail(fmt::format("column {}: '{}' is not a number", c + 1, fields[c]));
      if (!std::isfinite(*value)) {
        fail(fmt::format("column {}: '{}' is not a finite number (NaN and infinities are rejected)", c + 1,
                         fields[c]));
      }
      values.push_back(*value);
    }
  }
  if (columns < 0)
    throw DataError(path + ": no data rows (expected comma-separated numbers, one example per line)");
  const int64_t rows = static_cast<int64_t>(values.size()) / columns;
  return torch::tensor(values, torch::TensorOptions().dtype(torch::kDouble)).reshape({rows, columns});
}

void write_csv(const std::string& path, const torch::Tensor& x, const std::string& header) {
  TORCH_CHECK(x.dim() == 2, "write_csv: expected x [N, D], got ", x.sizes());
  const auto data = x.detach().to(torch::kCPU, torch::kDouble).contiguous();
  const double* p = data.data_ptr<double>();
  std::string out;
  if (!header.empty()) out += header + "\n";
  for (int64_t i = 0; i < data.size(0); ++i) {
    for (int64_t j = 0; j < data.size(1); ++j) {
      if (j > 0) out += ',';
      out += fmt::format("{}", p[i * data.size(1) + j]);  // shortest round-trip form
    }
    out += '\n';
  }
  util::write_file_atomic(path, out);
}

}  // namespace lvm::data
