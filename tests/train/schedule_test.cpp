#include <gtest/gtest.h>

#include <cmath>

#include <torch/torch.h>

#include "lvm/train/schedule.h"

namespace lvm::train {
namespace {

TEST(Schedule, EachKindFollowsItsFormula) {
  config::TrainConfig t;
  t.lr = 1e-3;
  t.epochs = 10;
  t.gamma = 0.5;
  t.step_size = 3;
  t.schedule = "none";
  EXPECT_DOUBLE_EQ(learning_rate(t, 7), 1e-3);
  t.schedule = "step";
  EXPECT_DOUBLE_EQ(learning_rate(t, 2), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(t, 3), 5e-4);
  EXPECT_DOUBLE_EQ(learning_rate(t, 7), 2.5e-4);
  t.schedule = "exponential";
  EXPECT_DOUBLE_EQ(learning_rate(t, 2), 2.5e-4);
  t.schedule = "cosine";
  t.lr_min = 1e-4;
  EXPECT_DOUBLE_EQ(learning_rate(t, 0), 1e-3);
  EXPECT_NEAR(learning_rate(t, 5), 5.5e-4, 1e-15);
  EXPECT_NEAR(learning_rate(t, 10), 1e-4, 1e-15);
}

// Steps a least-squares problem with `optimizer` and returns its parameters.
template <typename Optimizer>
torch::Tensor fit(Optimizer& optimizer, torch::Tensor w, int steps) {
  torch::manual_seed(3);
  const auto a = torch::randn({32, 16}).to(w.scalar_type());
  const auto y = torch::randn({32}).to(w.scalar_type());
  for (int i = 0; i < steps; ++i) {
    optimizer.zero_grad();
    (torch::mv(a, w) - y).pow(2).mean().backward();
    optimizer.step();
  }
  return w.detach();
}

// train.optimizer and train.weight_decay give PyTorch's two meanings of weight decay:
// the same trajectories as torch::optim::Adam's L2 term and torch::optim::AdamW's decoupled one.
TEST(OptimizerOptions, AdamAndAdamWFollowLibTorchsOptimizers) {
  config::TrainConfig t;
  t.lr = 1e-2;
  t.beta1 = 0.8;
  t.beta2 = 0.99;
  t.eps = 1e-6;
  t.weight_decay = 0.1;
  // Float takes FlatAdam's fused loop; double takes LibTorch's own step (the path CUDA takes too).
  for (const auto dtype : {torch::kFloat, torch::kDouble}) {
    const auto start = torch::linspace(-1, 1, 16).to(dtype);
    const double tolerance = dtype == torch::kFloat ? 1e-5 : 1e-12;
    for (const std::string kind : {"adam", "adamw"}) {
      t.optimizer = kind;
      auto ours = start.clone().requires_grad_();
      FlatAdam flat({ours}, optimizer_options(t));
      auto theirs = start.clone().requires_grad_();
      std::unique_ptr<torch::optim::Optimizer> reference;
      if (kind == "adam") {
        reference = std::make_unique<torch::optim::Adam>(
            std::vector<torch::Tensor>{theirs},
            torch::optim::AdamOptions(1e-2).betas({0.8, 0.99}).eps(1e-6).weight_decay(0.1));
      } else {
        reference = std::make_unique<torch::optim::AdamW>(
            std::vector<torch::Tensor>{theirs},
            torch::optim::AdamWOptions(1e-2).betas({0.8, 0.99}).eps(1e-6).weight_decay(0.1));
      }
      const auto a = fit(flat, ours, 100);
      const auto b = fit(*reference, theirs, 100);
      EXPECT_LT((a - b).abs().max().item<double>(), tolerance) << kind << " " << dtype;
      EXPECT_GT((a - start).abs().max().item<double>(), 0.1) << kind << ": the parameters moved";
    }
  }
  // The two decays differ: the test above tells them apart.
  const auto start = torch::linspace(-1, 1, 16);
  t.optimizer = "adam";
  auto l2 = start.clone().requires_grad_();
  FlatAdam adam({l2}, optimizer_options(t));
  t.optimizer = "adamw";
  auto decoupled = start.clone().requires_grad_();
  FlatAdam adamw({decoupled}, optimizer_options(t));
  EXPECT_GT((fit(adam, l2, 100) - fit(adamw, decoupled, 100)).abs().max().item<double>(), 1e-3);
}

}  // namespace
}  // namespace lvm::train
