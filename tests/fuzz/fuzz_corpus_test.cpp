// Replays every saved fuzz input (the seed corpus and the regressions, i.e. inputs that once
// crashed a reader) through its fuzz target, so findings stay covered in the normal suite. Each
// file is named accept-* or reject-* after the outcome the reader must give it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <vector>

#include "tests/fuzz/fuzz_targets.h"

namespace lvm::fuzz {
namespace {

namespace fs = std::filesystem;

struct Target {
  const char* name;
  Outcome (*run)(const uint8_t*, size_t);
};

void PrintTo(const Target& target, std::ostream* os) { *os << target.name; }

class FuzzCorpus : public ::testing::TestWithParam<Target> {};

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  if (fs::is_directory(dir))
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST_P(FuzzCorpus, EverySavedInputGetsItsExpectedOutcome) {
  const Target target = GetParam();
  const fs::path root = fs::path(LVM_SOURCE_DIR) / "tests" / "fuzz";
  int accepted = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    for (const fs::path& file : files_in(root / kind / target.name)) {
      SCOPED_TRACE(file.string());
      const std::string name = file.filename().string();
      const bool expect_accept = name.rfind("accept-", 0) == 0;
      ASSERT_TRUE(expect_accept || name.rfind("reject-", 0) == 0)
          << "name must start with accept- or reject-";
      std::ifstream in(file, std::ios::binary);
      const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                       std::istreambuf_iterator<char>());
      const Outcome outcome = target.run(bytes.data(), bytes.size());
      EXPECT_EQ(outcome == Outcome::kAccepted, expect_accept);
      accepted += outcome == Outcome::kAccepted;
    }
  }
  // The seeds must include valid inputs, or the fuzzer starts from nothing it can mutate.
  EXPECT_GE(accepted, 1);
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpus,
                         ::testing::Values(Target{"idx", idx_input}, Target{"npy", npy_input},
                                           Target{"config", config_input},
                                           Target{"checkpoint", checkpoint_input}),
                         [](const ::testing::TestParamInfo<Target>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace lvm::fuzz
