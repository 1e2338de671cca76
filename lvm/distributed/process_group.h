#pragma once
// A data-parallel group on PyTorch's own distributed engine, c10d: a TCPStore for the
// rendezvous (hosted by rank 0, or by torchrun's agent) and ProcessGroupGloo for the exchanges
// (on CPU tensors; CUDA tensors pass through host memory). It is the trainer's DataParallel
// (lvm/train/data_parallel.h).
//
// Faults: every exchange waits at most the group's timeout (distributed.timeout_s); one that
// fails or times out (a peer died, hung, or left) throws GroupError naming this process, the
// exchange and the cause. The launcher (lvm/distributed/launcher.h) then stops the others.

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "lvm/distributed/world.h"
#include "lvm/train/data_parallel.h"

namespace lvm::distributed {

/// An exchange between the processes failed or timed out.
class GroupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Whether this build has c10d's Gloo backend (configured with the gloo headers, libgloo-dev).
bool available();

class ProcessGroup : public train::DataParallel {
 public:
  /// Joins the group `world` describes: waits up to `timeout` for the store and for every
  /// process. Throws GroupError when the rendezvous fails or times out, std::runtime_error when
  /// the build has no distributed support (available() is false).
  static std::shared_ptr<ProcessGroup> join(const World& world, std::chrono::milliseconds timeout);
  ~ProcessGroup() override;

  int rank() const override { return world_.rank; }
  int world_size() const override { return world_.world_size; }
  int local_world_size() const override { return world_.local_world_size; }
  const World& world() const { return world_; }
  void all_reduce_sum(torch::Tensor& values, const std::string& what) override;
  void broadcast_from_first(torch::Tensor& values, const std::string& what) override;

  struct Backend;  // c10d's objects, in process_group.cpp only

 private:
  ProcessGroup(World world, std::unique_ptr<Backend> backend);
  World world_;
  std::unique_ptr<Backend> backend_;
};

}  // namespace lvm::distributed
