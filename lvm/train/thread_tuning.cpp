#include "lvm/train/thread_tuning.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/models/registry.h"
#include "lvm/train/flat_adam.h"
#include "lvm/train/schedule.h"

namespace lvm::train {
namespace {

// One candidate's timed steps: the trainer's inner loop without the bookkeeping.
class StepTimer {
 public:
  StepTimer(const config::ExperimentConfig& config, torch::Device device)
      : model_(make_model(config.model, {1, 28, 28})),
        objective_(model_spec(config.model.type()).objective(config.model.options())) {
    model_->to(device);
    model_->train();
    optimizer_ = std::make_unique<FlatAdam>(model_->parameters(), optimizer_options(config.train));
    // MNIST's share of black pixels; a few distinct batches so no step sees cached results.
    for (int i = 0; i < 4; ++i) {
      batches_.push_back(torch::bernoulli(torch::full({config.train.batch_size, 784}, 0.13)).to(device));
    }
  }

  // ms per step over `steps` steps.
  double time(int64_t steps) {
    const auto start = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < steps; ++s) step(batches_[static_cast<size_t>(s) % batches_.size()]);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return 1e3 * seconds / static_cast<double>(std::max<int64_t>(steps, 1));
  }

 private:
  void step(const torch::Tensor& x) {
    optimizer_->zero_grad();
    const auto result = objective_(*model_, x);
    result.backward();
    // The trainer's one host read per step (loss and gradient norm), which waits for the step.
    (void)torch::stack({result.loss.detach().to(torch::kDouble), optimizer_->gradient_norm()}).cpu();
    optimizer_->step();
  }

  std::shared_ptr<LatentVariableModel> model_;
  Objective objective_;
  std::unique_ptr<FlatAdam> optimizer_;
  std::vector<torch::Tensor> batches_;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

void check_tunable(const config::ExperimentConfig& config) {
  if (config.data.dataset != "mnist" && config.data.dataset != "fashion_mnist") {
    throw std::invalid_argument("thread tuning times training on 28x28 images; data.dataset is '" +
                                config.data.dataset + "' (mnist or fashion_mnist)");
  }
  if (!model_spec(config.model.type()).objective) {
    throw std::invalid_argument("thread tuning times gradient training; model.type " + config.model.type() +
                                " is fitted by its own fit");
  }
}

}  // namespace

std::vector<runtime::ThreadSplit> candidate_splits(int cores) {
  std::vector<int> counts;
  for (int n = 1; n < cores; n *= 2) counts.push_back(n);
  counts.push_back(std::max(cores, 1));
  std::vector<runtime::ThreadSplit> splits;
  for (int t : counts)
    for (int b : counts) splits.push_back({t, b});
  return splits;
}

ThreadTuning tune_thread_split(const config::ExperimentConfig& config, int64_t steps, int64_t rounds,
                               int64_t warmup, std::ostream* log) {
  if (steps < 1 || rounds < 1 || warmup < 0) {
    throw std::invalid_argument(
        fmt::format("thread tuning: steps and rounds must be >= 1 and warmup >= 0, got {}, {}, {}", steps,
                    rounds, warmup));
  }
  check_tunable(config);
  // Put back on the way out, also when a step throws.
  struct RestoreSplit {
    runtime::ThreadSplit split = runtime::current_split();
    ~RestoreSplit() { runtime::configure_threads(0, split.torch_threads, split.blas_threads); }
  } restore;
  ThreadTuning result;
  result.batch_size = config.train.batch_size;
  const auto automatic = runtime::configure_threads(config.threads);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto candidates = candidate_splits(config.threads > 0 ? static_cast<int>(config.threads) : cores);
  const auto is_automatic = [&](const runtime::ThreadSplit& c) {
    return c.torch_threads == automatic.torch_threads && c.blas_threads == automatic.blas_threads;
  };
  if (std::none_of(candidates.begin(), candidates.end(), is_automatic)) candidates.push_back(automatic);
  result.automatic = static_cast<size_t>(std::find_if(candidates.begin(), candidates.end(), is_automatic) -
                                         candidates.begin());

  torch::manual_seed(static_cast<uint64_t>(config.train.seed));
  StepTimer timer(config, torch::kCPU);
  std::vector<std::vector<double>> ms(candidates.size());
  for (int64_t round = 0; round < rounds; ++round) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      runtime::configure_threads(0, candidates[i].torch_threads, candidates[i].blas_threads);
      if (warmup > 0) timer.time(warmup);  // the pools spin up at the new size
      ms[i].push_back(timer.time(steps));
    }
    if (log != nullptr) *log << fmt::format("round {}/{} done\n", round + 1, rounds);
  }
  for (size_t i = 0; i < candidates.size(); ++i) {
    const auto [lo, hi] = std::minmax_element(ms[i].begin(), ms[i].end());
    result.timings.push_back({candidates[i], median(ms[i]), *lo, *hi});
  }
  result.best = static_cast<size_t>(
      std::min_element(result.timings.begin(), result.timings.end(),
                       [](const auto& a, const auto& b) { return a.median_ms < b.median_ms; }) -
      result.timings.begin());
  return result;
}

}  // namespace lvm::train
