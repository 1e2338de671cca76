#pragma once
// The thread split measured rather than guessed (`lvm info --tune`): times the training step of
// one config's model at its batch size under each candidate split of the cores between
// LibTorch's intra-op pool and BLAS, rounds interleaved so that a machine's drift hits every
// split alike, and names the fastest. The step is the trainer's (zero the gradients, objective,
// backward, the loss and gradient-norm read, the optimiser step) on random binary images of the
// data's shape: its cost depends on the shapes, not the pixel values.

#include <cstdint>
#include <ostream>
#include <vector>

#include "lvm/config/config.h"
#include "lvm/runtime/runtime.h"

namespace lvm::train {

struct SplitTiming {
  runtime::ThreadSplit split;
  double median_ms = 0;  // per training step, over the rounds
  double min_ms = 0, max_ms = 0;
};

struct ThreadTuning {
  std::vector<SplitTiming> timings;  // in candidate order, the automatic split among them
  size_t best = 0;                   // index into timings: the smallest median
  size_t automatic = 0;              // index into timings: what configure_threads(config.threads) picks
  int64_t batch_size = 0;
};

/// Torch and BLAS threads each in {1, 2, 4, ..., cores} (cores itself included), every pairing.
std::vector<runtime::ThreadSplit> candidate_splits(int cores);

/// Times `steps` training steps on the CPU (after `warmup` untimed ones) per candidate and round,
/// `rounds` rounds. The candidates are candidate_splits(config.threads, or all cores) and the
/// automatic split of config.threads; torch_threads, blas_threads and device are ignored. The
/// process's split is restored afterwards, also on an exception.
/// Image data only (data.dataset mnist or fashion_mnist) and models with a gradient objective;
/// throws std::invalid_argument naming what is missing otherwise. `log` (may be null) gets a
/// line per round.
ThreadTuning tune_thread_split(const config::ExperimentConfig& config, int64_t steps = 20, int64_t rounds = 3,
                               int64_t warmup = 3, std::ostream* log = nullptr);

}  // namespace lvm::train
