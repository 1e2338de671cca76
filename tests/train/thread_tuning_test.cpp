#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include <torch/torch.h>

#include "lvm/train/thread_tuning.h"
#include "tests/testing.h"

namespace lvm::train {
namespace {

bool same(const runtime::ThreadSplit& a, const runtime::ThreadSplit& b) {
  return a.torch_threads == b.torch_threads && a.blas_threads == b.blas_threads;
}

TEST(ThreadTuning, CandidatesPairPowersOfTwoUpToTheCores) {
  const auto two = candidate_splits(2);
  ASSERT_EQ(two.size(), 4u);
  EXPECT_TRUE(same(two[0], {1, 1}));
  EXPECT_TRUE(same(two[1], {1, 2}));
  EXPECT_TRUE(same(two[2], {2, 1}));
  EXPECT_TRUE(same(two[3], {2, 2}));
  const auto six = candidate_splits(6);  // {1, 2, 4, 6} each
  ASSERT_EQ(six.size(), 16u);
  EXPECT_TRUE(same(six[3], {1, 6}));
  EXPECT_TRUE(same(six.back(), {6, 6}));
  ASSERT_EQ(candidate_splits(1).size(), 1u);
  EXPECT_TRUE(same(candidate_splits(1)[0], {1, 1}));
}

TEST(ThreadTuning, TimesEveryCandidateAndPicksTheFastestThenRestoresTheSplit) {
  auto config = testing::tiny_vae_config("unused");
  config.train.batch_size = 16;
  config.threads = 0;  // every core
  const auto original = runtime::current_split();
  const auto before = runtime::configure_threads(0, 1, 1);
  const auto tuning = tune_thread_split(config, /*steps=*/2, /*rounds=*/3, /*warmup=*/1);
  const auto candidates =
      candidate_splits(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  ASSERT_EQ(tuning.timings.size(), candidates.size());
  double fastest = tuning.timings.front().median_ms;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const auto& t = tuning.timings[i];
    EXPECT_TRUE(same(t.split, candidates[i]));
    EXPECT_GT(t.min_ms, 0);
    EXPECT_LE(t.min_ms, t.median_ms);
    EXPECT_LE(t.median_ms, t.max_ms);
    fastest = std::min(fastest, t.median_ms);
  }
  ASSERT_LT(tuning.best, tuning.timings.size());
  EXPECT_EQ(tuning.timings[tuning.best].median_ms, fastest);
  EXPECT_EQ(tuning.batch_size, 16);
  EXPECT_EQ(torch::get_num_threads(), before.torch_threads);
  EXPECT_EQ(runtime::current_split().blas_threads, before.blas_threads);

  // A thread budget caps the candidates; the automatic split is always among them.
  config.threads = 1;
  const auto capped = tune_thread_split(config, 1, 1, 0);
  ASSERT_EQ(capped.timings.size(), 1u);
  EXPECT_TRUE(same(capped.timings[0].split, {1, 1}));
  EXPECT_TRUE(same(capped.timings[capped.automatic].split, {1, 1}));
  config.threads = 3;  // automatic 3 + 3 (more than two cores): not a power of two
  const auto odd = tune_thread_split(config, 1, 1, 0);
  EXPECT_EQ(odd.timings.size(), candidate_splits(3).size());
  ASSERT_LT(odd.automatic, odd.timings.size());
  EXPECT_TRUE(same(odd.timings[odd.automatic].split, runtime::configure_threads(3)));
  runtime::configure_threads(0, original.torch_threads, original.blas_threads);
}

TEST(ThreadTuning, RefusesWhatItCannotTime) {
  auto config = testing::tiny_vae_config("unused");
  config.data.dataset = "synthetic";
  try {
    tune_thread_split(config, 1, 1);
    FAIL() << "vector data were accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("data.dataset is 'synthetic'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tune_thread_split(testing::tiny_vae_config("unused"), 0, 1), std::invalid_argument);
}

}  // namespace
}  // namespace lvm::train
