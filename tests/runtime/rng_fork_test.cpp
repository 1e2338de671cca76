// ForkedRng: draws inside it come from the given seed, and the stream outside it continues as if
// nothing had been drawn.

#include "lvm/runtime/rng_fork.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace lvm::runtime {
namespace {

TEST(ForkedRng, LeavesTheDefaultStreamUntouched) {
  torch::manual_seed(7);
  const auto first = torch::randn({5});
  const auto expected = torch::randn({3});  // what comes next without a fork

  torch::manual_seed(7);
  EXPECT_TRUE(torch::equal(torch::randn({5}), first));
  {
    ForkedRng fork(123, torch::kCPU);
    torch::randn({1001});  // an odd count leaves a cached normal behind in some generators
    torch::rand({17});
  }
  EXPECT_TRUE(torch::equal(torch::randn({3}), expected));
}

TEST(ForkedRng, DrawsInsideComeFromTheSeed) {
  torch::manual_seed(123);
  const auto reference = torch::randn({4});
  torch::manual_seed(99);
  torch::Tensor a, b;
  {
    ForkedRng fork(123, torch::kCPU);
    a = torch::randn({4});
  }
  torch::randn({10});  // the outer stream moves on
  {
    ForkedRng fork(123, torch::kCPU);
    b = torch::randn({4});
  }
  EXPECT_TRUE(torch::equal(a, reference));
  EXPECT_TRUE(torch::equal(b, reference));
}

}  // namespace
}  // namespace lvm::runtime
