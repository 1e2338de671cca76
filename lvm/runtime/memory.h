#pragma once
// How much memory a run may use, and what a batch of decoder evaluations needs: lets a command
// refuse a chunk or batch that cannot fit, up front and naming the option, instead of failing
// with an allocation error halfway through.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

namespace lvm::runtime {

/// Bytes this process may still allocate on `device`: on the CPU (Linux) the smaller of the
/// kernel's MemAvailable and the headroom under a cgroup v2 memory.max; on a CUDA device the
/// driver's free memory (builds against a CUDA LibTorch); nullopt where unknown (other devices
/// and systems: there the allocator's own error is the only check).
std::optional<int64_t> available_memory(const torch::Device& device);

/// Bytes of float32 activations one input row takes through an MLP (in -> hidden... -> out):
/// every layer's output before and after its activation, the input and the output. An estimate
/// for one forward pass without autograd, the kind an evaluation chunk runs.
int64_t mlp_bytes_per_row(int64_t in, const std::vector<int64_t>& hidden, int64_t out);
/// Weights of an MLP in -> hidden... -> out, biases included.
double mlp_weights(int64_t in, const std::vector<int64_t>& hidden, int64_t out);

/// "1.5 GiB", "640 KiB", "12 B".
std::string format_bytes(double bytes);

}  // namespace lvm::runtime
