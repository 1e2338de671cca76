#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include <torch/torch.h>

#include "lvm/runtime/runtime.h"

namespace lvm::runtime {
namespace {

TEST(RunWorkers, RunsEveryWorkerOnItsOwnThreadWithTheCallersGradMode) {
  std::mutex mutex;
  std::set<std::thread::id> ids;
  std::vector<int> ran(4, 0);
  std::atomic<int> with_grad{0};
  torch::NoGradGuard no_grad;
  run_workers(4, [&](int w) {
    const std::lock_guard<std::mutex> lock(mutex);
    ids.insert(std::this_thread::get_id());
    ++ran[static_cast<size_t>(w)];
    if (torch::GradMode::is_enabled()) ++with_grad;
  });
  EXPECT_EQ(ran, (std::vector<int>{1, 1, 1, 1}));
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 1u) << "worker 0 runs on the caller";
  EXPECT_EQ(with_grad.load(), 0) << "grad mode carried into the workers";
  EXPECT_THROW(run_workers(0, [](int) {}), c10::Error);
}

TEST(RunWorkers, RethrowsTheLowestNumberedWorkersErrorAfterAllFinished) {
  std::atomic<int> finished{0};
  try {
    run_workers(3, [&](int w) {
      ++finished;
      if (w >= 1) throw std::runtime_error("worker " + std::to_string(w));
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "worker 1");
  }
  EXPECT_EQ(finished.load(), 3);
}

TEST(SingleThreadedPools, RestoresTheSplitItReplaced) {
  const auto original = current_split();
  configure_threads(0, 2, 2);
  {
    const SingleThreadedPools single;
    EXPECT_EQ(current_split().torch_threads, 1);
    EXPECT_EQ(current_split().blas_threads, 1);
  }
  EXPECT_EQ(current_split().torch_threads, 2);
  if (blas_info().library == "OpenBLAS") {
    EXPECT_EQ(current_split().blas_threads, 2);
  }
  configure_threads(0, original.torch_threads, original.blas_threads);
}

}  // namespace
}  // namespace lvm::runtime
