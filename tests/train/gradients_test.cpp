// The step's gradient norm and clipping agree with LibTorch's clip_grad_norm_.

#include "lvm/train/gradients.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace lvm::train {
namespace {

std::vector<torch::Tensor> parameters_with_gradients(uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> params = {torch::randn({3, 4}, torch::requires_grad()),
                                       torch::randn({5}, torch::requires_grad()),
                                       torch::randn({2}, torch::requires_grad())};
  (params[0].pow(3).sum() + params[1].exp().sum()).backward();  // params[2] gets no gradient
  return params;
}

TEST(Gradients, NormAndClippingMatchClipGradNorm) {
  for (double max_norm : {0.5, 1e6}) {
    auto ours = parameters_with_gradients(1), reference = parameters_with_gradients(1);
    const double norm = gradient_norm(ours).item<double>();
    const double expected = torch::sqrt(ours[0].grad().to(torch::kDouble).pow(2).sum() +
                                        ours[1].grad().to(torch::kDouble).pow(2).sum())
                                .item<double>();
    // Each parameter's norm is taken in its own dtype (float32: ~6e-8 relative per rounding).
    EXPECT_NEAR(norm, expected, 1e-6 * expected);
    clip_gradient_norm(ours, norm, max_norm);
    const double reference_norm = torch::nn::utils::clip_grad_norm_(reference, max_norm);
    EXPECT_NEAR(reference_norm, norm, 1e-5 * norm);
    for (size_t i = 0; i < 2; ++i)
      EXPECT_TRUE(torch::allclose(ours[i].grad(), reference[i].grad(), 1e-6, 1e-7)) << i << " " << max_norm;
    EXPECT_FALSE(ours[2].grad().defined());
  }
  EXPECT_EQ(gradient_norm({torch::zeros({2})}).item<double>(), 0.0);
}

}  // namespace
}  // namespace lvm::train
