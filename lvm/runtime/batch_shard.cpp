#include "lvm/runtime/batch_shard.h"

#include <stdexcept>
#include <string>

#include <torch/torch.h>

namespace lvm::runtime {
namespace {
thread_local const BatchShard* current_shard = nullptr;
}  // namespace

BatchShard::BatchShard(int64_t offset, int64_t rows, int64_t global_rows)
    : offset_(offset), rows_(rows), global_rows_(global_rows), previous_(current_shard) {
  if (offset < 0 || rows < 1 || offset + rows > global_rows) {
    throw std::invalid_argument("BatchShard: rows [" + std::to_string(offset) + ", " +
                                std::to_string(offset + rows) + ") are not a slice of a batch of " +
                                std::to_string(global_rows));
  }
  current_shard = this;
}

BatchShard::~BatchShard() { current_shard = previous_; }

const BatchShard* BatchShard::current() { return current_shard; }

torch::Tensor per_example_randn(const std::vector<int64_t>& shape, const torch::TensorOptions& options) {
  const BatchShard* shard = BatchShard::current();
  const auto rank = static_cast<int64_t>(shape.size());
  if (shard == nullptr || rank < 2 || shape[rank - 2] != shard->rows()) return torch::randn(shape, options);
  auto global = shape;
  global[rank - 2] = shard->global_rows();
  return torch::randn(global, options).narrow(rank - 2, shard->offset(), shard->rows());
}

}  // namespace lvm::runtime
