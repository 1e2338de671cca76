#include "lvm/train/optimizer_state.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>

#include "lvm/train/checkpoint.h"
#include "lvm/util/torch_compat.h"

namespace lvm::train {
namespace {

// Three parameters in two groups, stepped `steps` times on a fixed quadratic loss.
struct Problem {
  std::vector<torch::Tensor> params;
  std::unique_ptr<torch::optim::Adam> adam;

  explicit Problem(uint64_t seed) {
    torch::manual_seed(seed);
    params = {torch::randn({3, 2}).requires_grad_(), torch::randn({4}).requires_grad_(),
              torch::randn({1}).requires_grad_()};
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(std::vector<torch::Tensor>{params[0], params[1]});
    groups.emplace_back(std::vector<torch::Tensor>{params[2]},
                        std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(5e-3)));
    adam = std::make_unique<torch::optim::Adam>(std::move(groups), torch::optim::AdamOptions(1e-2));
  }
  // `touch`: which parameters the loss reaches (an untouched one gets no Adam state).
  void step(int steps, std::vector<bool> touch = {true, true, true}) {
    for (int s = 0; s < steps; ++s) {
      adam->zero_grad();
      auto loss = torch::zeros({});
      for (size_t i = 0; i < params.size(); ++i)
        if (touch[i]) loss = loss + (params[i] * params[i] * (i + 1.0)).sum() + params[i].sum();
      loss.backward();
      adam->step();
    }
  }
  torch::optim::AdamParamState* state(size_t i) {
    auto found = adam->state().find(compat::optimizer_state_key(*adam, params[i]));
    return found == adam->state().end() ? nullptr
                                        : static_cast<torch::optim::AdamParamState*>(found->second.get());
  }
};

torch::serialize::InputArchive reread(torch::serialize::OutputArchive& out) {
  std::stringstream bytes;
  out.save_to(bytes);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  return in;
}

void expect_same_state(Problem& a, Problem& b) {
  for (size_t i = 0; i < a.params.size(); ++i) {
    auto *sa = a.state(i), *sb = b.state(i);
    ASSERT_EQ(sa == nullptr, sb == nullptr) << "parameter " << i;
    if (sa == nullptr) continue;
    EXPECT_EQ(sa->step(), sb->step());
    EXPECT_TRUE(torch::equal(sa->exp_avg(), sb->exp_avg())) << "parameter " << i;
    EXPECT_TRUE(torch::equal(sa->exp_avg_sq(), sb->exp_avg_sq())) << "parameter " << i;
  }
}

// Same parameter values, then the same further steps: bit-identical parameters.
void expect_resumes_identically(Problem& a, Problem& b) {
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < a.params.size(); ++i) b.params[i].copy_(a.params[i]);
  }
  a.step(5);
  b.step(5);
  for (size_t i = 0; i < a.params.size(); ++i) EXPECT_TRUE(torch::equal(a.params[i], b.params[i])) << i;
}

// LibTorch's layout written by hand, each parameter's state under key_of(position): how LibTorch
// 1.13 ("0x55d0...") and 2.x (the address in decimal) key it.
torch::serialize::OutputArchive libtorch_layout(Problem& p, const std::function<std::string(int)>& key_of) {
  torch::serialize::OutputArchive out, states(out.compilation_unit()), groups(out.compilation_unit());
  out.write("pytorch_version", c10::IValue("1.5.0"));
  groups.write("param_groups/size", torch::tensor(int64_t{2}));
  const std::vector<std::vector<int>> members = {{0, 1}, {2}};
  for (int g = 0; g < 2; ++g) {
    torch::serialize::OutputArchive group(out.compilation_unit()), options(out.compilation_unit());
    group.write("params/size", torch::tensor(static_cast<int64_t>(members[g].size())));
    for (size_t i = 0; i < members[g].size(); ++i) {
      const int position = members[g][i];
      group.write("params/" + std::to_string(i), c10::IValue(key_of(position)));
      if (auto* s = p.state(position)) {
        torch::serialize::OutputArchive state(out.compilation_unit());
        s->serialize(state);
        states.write(key_of(position), state);
      }
    }
    static_cast<const torch::optim::AdamOptions&>(p.adam->param_groups()[g].options()).serialize(options);
    group.write("options", options);
    groups.write("param_groups/" + std::to_string(g), group);
  }
  out.write("state", states);
  out.write("param_groups", groups);
  return out;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "(no CheckpointError)";
}

TEST(OptimizerState, RoundTripsAndResumesBitIdentically) {
  Problem a(1), b(2);
  a.step(7);
  torch::serialize::OutputArchive out;
  save_adam_state(out, *a.adam);
  auto in = reread(out);
  load_adam_state(in, *b.adam, "c.pt");
  expect_same_state(a, b);
  EXPECT_EQ(b.state(0)->step(), 7);
  expect_resumes_identically(a, b);
}

TEST(OptimizerState, ReadsLibTorchsOwnFilesOfEitherVersion) {
  const std::vector<std::pair<std::string, std::function<std::string(int)>>> formats = {
      {"1.13 (hex address)", [](int i) { return "0x7ffd5e1c" + std::to_string(1000 + i); }},
      {"2.x (decimal address)", [](int i) { return std::to_string(140725183209472ULL + 64 * i); }},
  };
  for (const auto& [name, key_of] : formats) {
    SCOPED_TRACE(name);
    Problem a(3), b(4);
    a.step(4);
    auto out = libtorch_layout(a, key_of);
    auto in = reread(out);
    load_adam_state(in, *b.adam, "old.pt");
    expect_same_state(a, b);
    expect_resumes_identically(a, b);
  }
}

TEST(OptimizerState, ThisLibTorchsOwnSaveIsRead) {
  Problem a(5), b(6);
  a.step(3);
  torch::serialize::OutputArchive out;
  a.adam->save(out);
  auto in = reread(out);
  load_adam_state(in, *b.adam, "own.pt");
  expect_same_state(a, b);
  expect_resumes_identically(a, b);
}

// Older lvm builds resume through LibTorch's Optimizer::load: the positional keys must suit it.
TEST(OptimizerState, WhatLvmWritesIsReadByLibTorchsOwnLoad) {
  Problem a(7), b(8);
  a.step(3);
  torch::serialize::OutputArchive out;
  save_adam_state(out, *a.adam);
  auto in = reread(out);
  b.adam->load(in);
  expect_same_state(a, b);
}

TEST(OptimizerState, AParameterNeverSteppedStartsFresh) {
  Problem a(9), b(10);
  a.step(3, {true, false, true});
  ASSERT_EQ(a.state(1), nullptr);
  b.step(1);  // b's own state must be replaced, not merged
  torch::serialize::OutputArchive out;
  save_adam_state(out, *a.adam);
  auto in = reread(out);
  load_adam_state(in, *b.adam, "c.pt");
  expect_same_state(a, b);
  EXPECT_EQ(b.state(1), nullptr);
}

TEST(OptimizerState, StateThatDoesNotFitIsRefusedAndNothingChanges) {
  Problem a(11), b(12);
  a.step(2);
  b.step(1);
  const auto before = b.state(0)->exp_avg().clone();
  // A moment of another shape.
  a.state(1)->exp_avg_sq(torch::zeros({5}));
  torch::serialize::OutputArchive out;
  save_adam_state(out, *a.adam);
  auto in = reread(out);
  const auto shape = message_of([&] { load_adam_state(in, *b.adam, "c.pt"); });
  EXPECT_NE(shape.find("c.pt: optimiser state does not fit this model: parameter 1 of group 0: 'exp_avg_sq' "
                       "has shape [5] (Float) but its parameter [4] (Float)"),
            std::string::npos)
      << shape;
  EXPECT_TRUE(torch::equal(b.state(0)->exp_avg(), before));
  EXPECT_EQ(b.state(0)->step(), 1);

  // Another number of parameters (another model).
  Problem c(13);
  c.step(1);
  auto other = libtorch_layout(c, [](int i) { return std::to_string(i); });
  std::vector<torch::optim::OptimizerParamGroup> one_group;
  one_group.emplace_back(std::vector<torch::Tensor>{torch::zeros({3, 2}).requires_grad_()});
  torch::optim::Adam single(std::move(one_group), torch::optim::AdamOptions(1e-2));
  auto other_in = reread(other);
  const auto groups = message_of([&] { load_adam_state(other_in, single, "c.pt"); });
  EXPECT_NE(groups.find("param_groups: holds 2 parameter groups, the optimiser 1"), std::string::npos)
      << groups;

  // Not LibTorch's layout at all.
  torch::serialize::OutputArchive foreign;
  foreign.write("pytorch_version", c10::IValue(int64_t{3}));
  auto foreign_in = reread(foreign);
  const auto layout = message_of([&] { load_adam_state(foreign_in, *b.adam, "c.pt"); });
  EXPECT_NE(layout.find("'pytorch_version' is a Int, not a string"), std::string::npos) << layout;
}

}  // namespace
}  // namespace lvm::train
