// scripts/plot_metrics.py: curves from metrics.csv, a third panel when eval.json has gaps, and
// clear errors for bad input. Skipped where no Python with matplotlib is installed.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include "lvm/io/png.h"
#include "tests/testing.h"

namespace lvm {
namespace {

struct Result {
  int exit_code = -1;
  std::string output;
};

Result shell(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {};
  Result r;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) r.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

class PlotMetricsTest : public ::testing::Test {
 protected:
  // A Python with matplotlib: python3 on PATH, else Debian's /usr/bin/python3 (the script makes
  // the same fallback itself; naming it here saves a second interpreter start per run).
  static void SetUpTestSuite() {
    for (const char* python : {"python3", "/usr/bin/python3"}) {
      if (shell(std::string(python) + " -c 'import matplotlib' >/dev/null 2>&1").exit_code == 0) {
        script_ = std::string(python) + " " + LVM_SOURCE_DIR + "/scripts/plot_metrics.py ";
        return;
      }
    }
  }

  void SetUp() override {
    if (script_.empty()) GTEST_SKIP() << "no Python with matplotlib (scripts/install_deps.sh --python)";
    testing::write_file(dir_.file("metrics.csv"),
                        "epoch,train_elbo,val_elbo,val_kl,val_rec,seconds,examples_per_s,lr\n"
                        "1,-200.5,-190.2,10.1,-180.1,1.0,100,0.001\n"
                        "2,-150.5,-140.2,15.1,-125.1,1.0,100,0.001\n");
  }
  testing::TempDir dir_;
  static std::string script_;
};

std::string PlotMetricsTest::script_;

TEST_F(PlotMetricsTest, CurvesAloneOrWithTheGapsPanel) {
  auto r = shell(script_ + dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 epochs"), std::string::npos) << r.output;
  // Two 5 x 4 inch panels at 100 dpi.
  auto png = io::read_png(dir_.file("metrics.png"));
  EXPECT_EQ(png.size(1), 400);
  EXPECT_EQ(png.size(2), 1000);

  testing::write_file(dir_.file("eval.json"),
                      "{\"gaps\": {\"elbo_encoder\": -95.1, \"elbo_refined\": -93.2, \"log_px\": -90.0, "
                      "\"amortisation_gap\": 1.9, \"approximation_gap\": 3.2}}");
  r = shell(script_ + dir_.path() + " -o " + dir_.file("gaps.png"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("eval.json gaps"), std::string::npos) << r.output;
  png = io::read_png(dir_.file("gaps.png"));
  EXPECT_EQ(png.size(1), 400);
  EXPECT_EQ(png.size(2), 1500);
}

TEST_F(PlotMetricsTest, BadInputIsExitTwoNamingTheFile) {
  testing::TempDir empty;
  auto r = shell(script_ + empty.path());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(empty.file("metrics.csv") + ": not found"), std::string::npos) << r.output;

  testing::write_file(dir_.file("eval.json"), "{\"gaps\": ");
  r = shell(script_ + dir_.path());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(dir_.file("eval.json") + ": not valid JSON"), std::string::npos) << r.output;
  std::filesystem::remove(dir_.file("eval.json"));

  testing::write_file(dir_.file("metrics.csv"), "epoch,train_elbo,val_elbo,val_kl\n1,-2,oops,3\n");
  r = shell(script_ + dir_.path());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("metrics.csv:2: val_elbo: expected a number, got 'oops'"), std::string::npos)
      << r.output;

  testing::write_file(dir_.file("metrics.csv"), "epoch,train_elbo\n1,-2\n");
  r = shell(script_ + dir_.path());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("missing column(s) val_elbo, val_kl"), std::string::npos) << r.output;

  r = shell(script_ + dir_.path() + " -o " + dir_.file("no/such/x.png"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("metrics.png")));
}

}  // namespace
}  // namespace lvm
