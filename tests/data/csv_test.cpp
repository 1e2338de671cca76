// CSV files of numbers: what is accepted, and every rejection naming file, line and column.

#include "lvm/data/csv.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "lvm/data/idx.h"
#include "tests/testing.h"

namespace lvm::data {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

// The DataError message of reading `content` as <dir>/points.csv, with the directory stripped.
std::string read_error(const std::string& content) {
  testing::TempDir dir;
  const std::string path = dir.file("points.csv");
  testing::write_file(path, content);
  try {
    read_csv(path);
  } catch (const DataError& e) {
    std::string message = e.what();
    const size_t at = message.find(path);
    if (at != std::string::npos) message.replace(at, path.size(), "points.csv");
    return message;
  }
  ADD_FAILURE() << "no DataError for:\n" << content;
  return "";
}

TEST(Csv, ReadsRowsWithHeaderCommentsBlankLinesAndSpaces) {
  testing::TempDir dir;
  testing::write_file(dir.file("a.csv"), "x, y\n# a comment\n1, 2.5\n\n-3e2,+4\r\n 0.125 ,-0\n");
  const auto x = read_csv(dir.file("a.csv"));
  EXPECT_TRUE(torch::equal(x, torch::tensor({{1.0, 2.5}, {-300.0, 4.0}, {0.125, -0.0}}, kDouble))) << x;
  // No trailing newline, a single column.
  testing::write_file(dir.file("b.csv"), "1\n2\n3");
  EXPECT_EQ(read_csv(dir.file("b.csv")).sizes(), (std::vector<int64_t>{3, 1}));
}

TEST(Csv, WriteThenReadIsExact) {
  testing::TempDir dir;
  torch::manual_seed(0);
  const auto x = torch::randn({50, 3}, kDouble) * 1e3;
  write_csv(dir.file("x.csv"), x, "a,b,c");
  EXPECT_TRUE(torch::equal(read_csv(dir.file("x.csv")), x));
}

TEST(Csv, BadRowsNameFileLineAndColumn) {
  EXPECT_EQ(read_error("1,2\n3,4\n5,6,7\n"), "points.csv:3: expected 2 values (as on line 1), got 3");
  EXPECT_EQ(read_error("x,y\n1,2\n\n3\n"), "points.csv:4: expected 2 values (as on line 2), got 1");
  EXPECT_EQ(read_error("1,2\n3,abc\n"), "points.csv:2: column 2: 'abc' is not a number");
  EXPECT_EQ(read_error("1,2\n3,4x\n"), "points.csv:2: column 2: '4x' is not a number");
  EXPECT_EQ(read_error("1,2\n,4\n"), "points.csv:2: column 1: empty value");
  EXPECT_EQ(read_error("1,2\n3,4\n5,nan\n"),
            "points.csv:3: column 2: 'nan' is not a finite number (NaN and infinities are rejected)");
  EXPECT_EQ(read_error("NaN,2\n"),
            "points.csv:1: column 1: 'NaN' is not a finite number (NaN and infinities are rejected)");
  EXPECT_EQ(read_error("1,-inf\n"),
            "points.csv:1: column 2: '-inf' is not a finite number (NaN and infinities are rejected)");
  EXPECT_EQ(read_error("1,1e999\n"),
            "points.csv:1: column 2: '1e999' is not a finite number (NaN and infinities are rejected)");
  // A header is only the first line: a later line of names is an error.
  EXPECT_EQ(read_error("a,b\n1,2\nc,d\n"), "points.csv:3: column 1: 'c' is not a number");
  EXPECT_EQ(read_error("x,y\n# nothing\n\n"),
            "points.csv: no data rows (expected comma-separated numbers, one example per line)");
  EXPECT_EQ(read_error(""),
            "points.csv: no data rows (expected comma-separated numbers, one example per line)");
}

TEST(Csv, MissingFileIsADataError) {
  testing::TempDir dir;
  try {
    read_csv(dir.file("nope.csv"));
    FAIL() << "expected an error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("nope.csv: cannot read"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lvm::data
