#pragma once
// Noise that does not depend on how a batch is split over processes. Data-parallel training
// (lvm/train/data_parallel.h) gives each of N processes a slice of rows of every global batch;
// for N processes to train what one process trains, each row must get the noise (the
// reparameterisation's ε) that it gets in the unsplit batch. While a BatchShard is alive on a
// thread, per_example_randn draws the noise of the whole global batch from the (identically
// seeded) generator and keeps this process's rows: every process's generator then advances the
// same way too, so the draws stay in step for the rest of the run.

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace lvm::runtime {

/// Rows [offset, offset + rows) of a global batch of `global_rows` are this thread's.
class BatchShard {
 public:
  BatchShard(int64_t offset, int64_t rows, int64_t global_rows);
  ~BatchShard();
  BatchShard(const BatchShard&) = delete;
  BatchShard& operator=(const BatchShard&) = delete;

  int64_t offset() const { return offset_; }
  int64_t rows() const { return rows_; }
  int64_t global_rows() const { return global_rows_; }

  /// The shard alive on this thread, or nullptr.
  static const BatchShard* current();

 private:
  int64_t offset_, rows_, global_rows_;
  const BatchShard* previous_;
};

/// torch::randn(shape, options), for noise with one value per example: shape [..., B, Z], the
/// examples along dimension -2 (the layout of every per-example distribution here). Under a
/// BatchShard whose rows equal B, the global batch's noise [..., global_rows, Z] is drawn and
/// this shard's rows of it returned. Other shapes (a prior's [S, Z]) are drawn as they are.
torch::Tensor per_example_randn(const std::vector<int64_t>& shape, const torch::TensorOptions& options);

}  // namespace lvm::runtime
