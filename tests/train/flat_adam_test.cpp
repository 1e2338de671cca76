#include "lvm/train/flat_adam.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <sstream>

#include "lvm/train/optimizer_state.h"
#include "lvm/util/torch_compat.h"

namespace lvm::train {
namespace {

// Parameters of awkward sizes: odd lengths exercise the vector loop's scalar tail, the large one
// is split over threads.
std::vector<torch::Tensor> make_parameters(torch::Dtype dtype = torch::kFloat) {
  torch::manual_seed(3);
  const auto options = torch::TensorOptions().dtype(dtype);
  return {torch::randn({37, 5}, options).requires_grad_(), torch::randn({3}, options).requires_grad_(),
          torch::randn({300, 301}, options).requires_grad_()};
}

// A loss whose gradient at step s is a fixed random tensor (scaled differently per parameter), the
// same for both optimisers whatever their parameters: Adam's normalised steps make any
// parameter-dependent loss chaotic near its optimum, where float rounding would grow to the size
// of a step. Here differences stay at rounding level, and a wrong formula shows at once.
torch::Tensor step_loss(const std::vector<torch::Tensor>& params, int step) {
  torch::manual_seed(100 + step);
  auto loss = torch::zeros({}, params.front().options());
  for (size_t i = 0; i < params.size(); ++i) {
    const auto direction =
        torch::randn(params[i].sizes(), params[i].options()) * (0.1 + static_cast<double>(i));
    loss = loss + (params[i] * direction).sum();
  }
  return loss;
}

template <typename Optimizer>
void run_steps(Optimizer& optimizer, const std::vector<torch::Tensor>& params, int steps, int first = 0) {
  for (int s = first; s < first + steps; ++s) {
    optimizer.zero_grad();
    step_loss(params, s).backward();
    optimizer.step();
  }
}

std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone().requires_grad_());
  return out;
}

double max_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  return worst;
}

torch::optim::AdamOptions options() { return torch::optim::AdamOptions(1e-2).betas({0.8, 0.99}).eps(1e-6); }

TEST(FlatAdam, TakesTheSameStepsAsLibTorchsAdam) {
  auto reference_params = make_parameters();
  auto flat_params = copies(reference_params);
  torch::optim::Adam reference(reference_params, options());
  FlatAdam flat(flat_params, {options(), 0});
  ASSERT_TRUE(flat.fused());
  run_steps(reference, reference_params, 300);
  run_steps(flat, flat_params, 300);
  // Parameters are O(1) and move by up to lr = 1e-2 a step: float rounding over 300 steps stays
  // far below 1e-5, and a wrong formula shows at ~1e-3.
  EXPECT_LT(max_difference(reference_params, flat_params), 1e-5);
  for (size_t i = 0; i < flat_params.size(); ++i) {
    auto& r = static_cast<torch::optim::AdamParamState&>(
        *reference.state().at(compat::optimizer_state_key(reference, reference_params[i])));
    auto& f = static_cast<torch::optim::AdamParamState&>(
        *flat.state().at(compat::optimizer_state_key(flat, flat_params[i])));
    EXPECT_EQ(r.step(), f.step());
    EXPECT_TRUE(torch::allclose(r.exp_avg(), f.exp_avg(), 1e-5, 1e-7));
    EXPECT_TRUE(torch::allclose(r.exp_avg_sq(), f.exp_avg_sq(), 1e-5, 1e-7));
  }
}

// The largest parameter difference after `steps` steps of LibTorch's optimiser (made by
// `make_reference` from the parameters) and of a FlatAdam with `flat_options`, from the same start.
template <typename MakeReference>
double difference_after(int steps, MakeReference make_reference, FlatAdamOptions flat_options,
                        torch::Dtype dtype = torch::kFloat) {
  auto reference_params = make_parameters(dtype);
  auto flat_params = copies(reference_params);
  auto reference = make_reference(reference_params);
  FlatAdam flat(flat_params, flat_options);
  EXPECT_EQ(flat.fused(), dtype == torch::kFloat);
  run_steps(reference, reference_params, steps);
  run_steps(flat, flat_params, steps);
  return max_difference(reference_params, flat_params);
}

TEST(FlatAdam, WeightDecayMatchesAdamAndAdamW) {
  const double l2 = difference_after(
      200, [](auto& params) { return torch::optim::Adam(params, options().weight_decay(0.05)); },
      {options().weight_decay(0.05), 0});
  EXPECT_LT(l2, 1e-5) << "L2 weight decay";
  const double decoupled = difference_after(
      200,
      [](auto& params) {
        return torch::optim::AdamW(
            params, torch::optim::AdamWOptions(1e-2).betas({0.8, 0.99}).eps(1e-6).weight_decay(0.05));
      },
      {options(), 0.05});
  EXPECT_LT(decoupled, 1e-5) << "decoupled weight decay (AdamW)";
}

TEST(FlatAdam, DoubleParametersTakeAdamsOwnStepExactly) {
  const double difference = difference_after(
      50, [](auto& params) { return torch::optim::Adam(params, options()); }, {options(), 0}, torch::kDouble);
  EXPECT_EQ(difference, 0);
}

TEST(FlatAdam, AutogradAccumulatesIntoTheFlatGradient) {
  auto params = make_parameters();
  FlatAdam flat(params, {options(), 0});
  run_steps(flat, params, 1);  // the first step moves everything into the flat buffers
  flat.zero_grad();
  const auto buffer = flat.flat_gradient();
  EXPECT_EQ(buffer.abs().sum().item<double>(), 0);
  step_loss(params, 0).backward();
  EXPECT_EQ(flat.flat_gradient().data_ptr(), buffer.data_ptr()) << "backward allocated its own gradients";
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) grads.push_back(p.grad().reshape({-1}));
  EXPECT_TRUE(torch::equal(torch::cat(grads), flat.flat_gradient()));
  EXPECT_EQ(params[1].grad().data_ptr<float>(), buffer.data_ptr<float>() + params[0].numel());
}

// A checkpoint's state replaces the moments with tensors of their own; the next step copies them
// back into the flat buffers, so a saved-and-restored run continues exactly as one that never
// stopped.
TEST(FlatAdam, ResumesBitIdenticallyFromSavedState) {
  auto straight_params = make_parameters();
  FlatAdam straight(straight_params, {options(), 0});
  run_steps(straight, straight_params, 40);

  auto first_params = make_parameters();
  FlatAdam first(first_params, {options(), 0});
  run_steps(first, first_params, 25);
  torch::serialize::OutputArchive out;
  save_adam_state(out, first);
  std::stringstream bytes;
  out.save_to(bytes);

  auto resumed_params = copies(first_params);
  FlatAdam resumed(resumed_params, {options(), 0});
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  load_adam_state(in, resumed, "memory");
  run_steps(resumed, resumed_params, 15, /*first=*/25);
  EXPECT_EQ(max_difference(straight_params, resumed_params), 0);
}

// Loading a checkpoint's parameters replaces their storage (InputArchive::read uses set_); the flat
// buffers must pick the new values up, not step the stale ones.
TEST(FlatAdam, FollowsParametersWhoseStorageWasReplaced) {
  auto params = make_parameters();
  FlatAdam flat(params, {options(), 0});
  run_steps(flat, params, 3);
  auto reference_params = copies(params);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : params) p.set_(p.detach().clone());
  }
  torch::optim::Adam reference(reference_params, options());
  // The reference starts without moments; give the flat one the same start.
  flat.state().clear();
  run_steps(flat, params, 5, /*first=*/3);
  run_steps(reference, reference_params, 5, /*first=*/3);
  EXPECT_LT(max_difference(reference_params, params), 1e-6);
}

}  // namespace
}  // namespace lvm::train
