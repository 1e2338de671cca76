#pragma once
// What the trainer needs of a group of processes that train one model together (data-parallel
// training). lvm/distributed/process_group.h implements it on c10d (Gloo); tests may fake it.
//
// How the trainer uses it (lvm/train/trainer.cpp), so that N processes train what one process
// trains with the same global batch, up to the order of float sums:
//   - every process walks the same epoch permutation of (train.seed, epoch); of each global
//     batch of B rows, rank r takes a contiguous slice (sizes differing by at most one);
//   - binarisation is drawn for the whole global batch and the noise of the objective under a
//     runtime::BatchShard (lvm/runtime/batch_shard.h), so each row gets the draws it gets in one
//     process, and every process's generator stays in the same state;
//   - after the backward pass, the flat gradient scaled by (local rows / B) is summed over the
//     processes, with the step's loss, ELBO sum and stop request: every process takes the same
//     step and the same decisions (skip, stop, checkpoint);
//   - parameters are broadcast from rank 0 at the start and after a resume;
//   - validation and the test score run on every process on the same draws (identical results,
//     no exchange); only the process that writes (TrainRequest::writes) writes files.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace lvm::train {

class DataParallel {
 public:
  virtual ~DataParallel() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  /// How many of them share this machine's cores (threads: 0 then means cores / this).
  virtual int local_world_size() const { return world_size(); }
  /// Sums `values` (float or double, contiguous) over the processes, in place; every process
  /// calls it in the same order. `what` names the call for errors ("the gradients of epoch 3,
  /// step 17"): a process that died or hung ends the call with an error naming it.
  virtual void all_reduce_sum(torch::Tensor& values, const std::string& what) = 0;
  /// Replaces `values` by rank 0's, on every process.
  virtual void broadcast_from_first(torch::Tensor& values, const std::string& what) = 0;
};

/// Rows [offset, offset + rows) of a batch.
struct RowSlice {
  int64_t offset = 0;
  int64_t rows = 0;
};

/// Rank `rank`'s rows of a batch of `batch_rows` split over `world_size` processes: contiguous
/// slices in rank order, the first (batch_rows % world_size) of them one row longer.
RowSlice shard_of_batch(int64_t batch_rows, int rank, int world_size);

/// Throws std::invalid_argument, naming the keys to change, when an epoch of `examples` in
/// batches of `batch_size` has a batch with fewer rows than processes (one would get none).
void check_batches_split(int64_t examples, int64_t batch_size, int world_size);

/// Sets every parameter to rank 0's values (one broadcast of them all, flattened).
void broadcast_parameters(const std::vector<torch::Tensor>& parameters, DataParallel& group);

}  // namespace lvm::train
