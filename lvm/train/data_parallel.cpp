#include "lvm/train/data_parallel.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <torch/torch.h>

namespace lvm::train {

RowSlice shard_of_batch(int64_t batch_rows, int rank, int world_size) {
  if (world_size < 1 || rank < 0 || rank >= world_size || batch_rows < 0) {
    throw std::invalid_argument(fmt::format("shard_of_batch: rank {} of {} processes, batch of {} rows", rank,
                                            world_size, batch_rows));
  }
  const int64_t base = batch_rows / world_size, longer = batch_rows % world_size;
  RowSlice slice;
  slice.rows = base + (rank < longer ? 1 : 0);
  slice.offset = rank * base + std::min<int64_t>(rank, longer);
  return slice;
}

void check_batches_split(int64_t examples, int64_t batch_size, int world_size) {
  const int64_t last = examples % batch_size;
  if (batch_size < world_size) {
    throw std::invalid_argument(fmt::format(
        "train.batch_size {} is smaller than the {} processes: each process needs at least one row "
        "of every batch; use a batch of at least {}",
        batch_size, world_size, world_size));
  }
  if (last != 0 && last < world_size) {
    throw std::invalid_argument(fmt::format(
        "{} training examples in batches of {} leave a last batch of {} rows, fewer than the {} processes; "
        "change train.batch_size or data.train_limit so that the last batch has at least {} rows (or none)",
        examples, batch_size, last, world_size, world_size));
  }
}

void broadcast_parameters(const std::vector<torch::Tensor>& parameters, DataParallel& group) {
  if (parameters.empty()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat_parts;
  for (const auto& p : parameters) flat_parts.push_back(p.reshape({-1}));
  auto flat = torch::cat(flat_parts);
  group.broadcast_from_first(flat, "the parameters at the start");
  int64_t offset = 0;
  for (torch::Tensor p : parameters) {  // a handle to the same storage
    p.copy_(flat.narrow(0, offset, p.numel()).view_as(p));
    offset += p.numel();
  }
}

}  // namespace lvm::train
