// The pieces that make N processes train what one process trains: how a batch is split, the
// batches that cannot be, and per-example noise that does not depend on the split.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "lvm/distributions/normal.h"
#include "lvm/runtime/batch_shard.h"
#include "lvm/train/data_parallel.h"

namespace lvm::train {
namespace {

TEST(DataParallelTest, ShardsTileTheBatchInRankOrder) {
  for (int64_t rows : {1, 2, 7, 20, 101}) {
    for (int world = 1; world <= 5; ++world) {
      if (rows < world) continue;
      int64_t next = 0;
      for (int rank = 0; rank < world; ++rank) {
        const RowSlice slice = shard_of_batch(rows, rank, world);
        EXPECT_EQ(slice.offset, next) << rows << " rows, rank " << rank << " of " << world;
        EXPECT_TRUE(slice.rows == rows / world || slice.rows == rows / world + 1);
        next += slice.rows;
      }
      EXPECT_EQ(next, rows) << rows << " rows over " << world;
    }
  }
  EXPECT_THROW(shard_of_batch(10, 2, 2), std::invalid_argument);
}

TEST(DataParallelTest, BatchesThatLeaveAProcessWithoutRowsAreRefused) {
  EXPECT_NO_THROW(check_batches_split(500, 20, 3));  // no last partial batch
  EXPECT_NO_THROW(check_batches_split(503, 20, 3));  // a last batch of 3
  try {
    check_batches_split(502, 20, 3);
    FAIL() << "a last batch of 2 rows over 3 processes was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("last batch of 2 rows, fewer than the 3 processes"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(check_batches_split(100, 2, 3), std::invalid_argument);
}

// Rows of a draw under a shard are the same rows of the unsplit draw, and the generator ends in
// the same state, for [B, Z] and for k samples [k, B, Z].
TEST(DataParallelTest, ShardedNoiseIsTheSliceOfTheUnsplitDraw) {
  const auto mean = torch::linspace(-1, 1, 7 * 3).reshape({7, 3});
  for (const std::vector<int64_t>& k : {std::vector<int64_t>{}, std::vector<int64_t>{4}}) {
    torch::manual_seed(5);
    const auto whole = Normal(mean, torch::zeros({7, 3})).rsample(k);
    const auto after_whole = torch::randn({2});
    for (const auto& [offset, rows] : {std::pair<int64_t, int64_t>{0, 3}, {3, 2}, {5, 2}}) {
      torch::manual_seed(5);
      const runtime::BatchShard shard(offset, rows, 7);
      const Normal part(mean.narrow(0, offset, rows), torch::zeros({rows, 3}));
      EXPECT_TRUE(torch::equal(part.rsample(k), whole.narrow(-2, offset, rows))) << offset;
      EXPECT_TRUE(torch::equal(torch::randn({2}), after_whole)) << "generator out of step at " << offset;
    }
  }
  // A draw that is not per example (a prior's [S, Z]) is left alone.
  torch::manual_seed(6);
  const auto prior_draw = Normal::standard(3, torch::kFloat).rsample({5});
  torch::manual_seed(6);
  const runtime::BatchShard shard(0, 2, 7);
  EXPECT_TRUE(torch::equal(Normal::standard(3, torch::kFloat).rsample({5}), prior_draw));
  EXPECT_EQ(runtime::BatchShard::current(), &shard);
}

}  // namespace
}  // namespace lvm::train
