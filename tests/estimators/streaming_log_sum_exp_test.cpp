// The streaming log-sum-exp against torch::logsumexp on the whole tensor, and the effective
// sample size at its two ends.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "lvm/estimators/streaming_log_sum_exp.h"

namespace lvm::estimators {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

StreamingLogSumExp stream(const torch::Tensor& a, const std::vector<int64_t>& chunk_sizes) {
  StreamingLogSumExp s;
  int64_t start = 0;
  for (int64_t c : chunk_sizes) {
    s.add(a.slice(0, start, start + c));
    start += c;
  }
  EXPECT_EQ(start, a.size(0));
  return s;
}

TEST(StreamingLogSumExp, EqualsLogsumexpOfTheWholeTensorForLargeMagnitudes) {
  torch::manual_seed(0);
  // Columns centred at +1e4, -1e4 and 0: exp overflows or underflows for all but the shifted form.
  const auto a = torch::randn({100, 3}, kDouble) * 20 + torch::tensor({1e4, -1e4, 0.0}, kDouble);
  const auto reference = torch::logsumexp(a, 0);
  for (const auto& chunks : std::vector<std::vector<int64_t>>{{100}, {1, 99}, {7, 13, 30, 50}, {50, 50}}) {
    const auto s = stream(a, chunks);
    EXPECT_TRUE(torch::isfinite(s.log_sum_exp()).all().item<bool>());
    EXPECT_TRUE(torch::allclose(s.log_sum_exp(), reference, 1e-14, 1e-9)) << s.log_sum_exp() << reference;
    EXPECT_TRUE(torch::allclose(s.log_mean_exp(), reference - std::log(100.0), 1e-14, 1e-9));
    EXPECT_EQ(s.count(), 100);
  }
}

TEST(StreamingLogSumExp, MaximumArrivingLateRescalesEarlierChunks) {
  // The first chunk is 1e4 below the last: its terms vanish in double, exactly as in the reference.
  const auto a = torch::tensor({{-1e4, 0.0}, {-1e4 + 1, 1.0}, {0.0, 2.0}, {3.0, -5.0}}, kDouble);
  const auto s = stream(a, {2, 1, 1});
  EXPECT_TRUE(torch::allclose(s.log_sum_exp(), torch::logsumexp(a, 0), 0, 1e-12));
}

TEST(StreamingLogSumExp, FloatChunksAreAccumulatedInDouble) {
  torch::manual_seed(1);
  const auto a = torch::randn({1000, 4}) * 3 - 100;
  StreamingLogSumExp s;
  for (int64_t start = 0; start < 1000; start += 10) s.add(a.slice(0, start, start + 10));
  EXPECT_EQ(s.log_sum_exp().scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::allclose(s.log_sum_exp(), torch::logsumexp(a.to(torch::kDouble), 0), 0, 1e-10));
}

TEST(StreamingLogSumExp, MinusInfinityWeightsAreZeroWeights) {
  const double inf = INFINITY;
  const auto a = torch::tensor({{-inf, -inf, 0.0}, {-inf, 1.0, -inf}, {-inf, 2.0, 0.0}}, kDouble);
  const auto s = stream(a, {1, 2});
  const auto lse = s.log_sum_exp();
  EXPECT_TRUE(std::isinf(lse[0].item<double>()) && lse[0].item<double>() < 0);
  EXPECT_NEAR(lse[1].item<double>(), std::log(std::exp(1.0) + std::exp(2.0)), 1e-12);
  EXPECT_NEAR(lse[2].item<double>(), std::log(2.0), 1e-12);
  EXPECT_EQ(s.effective_sample_size()[0].item<double>(), 0.0);
  EXPECT_NEAR(s.effective_sample_size()[2].item<double>(), 2.0, 1e-12);
}

TEST(StreamingLogSumExp, EffectiveSampleSizeIsKForEqualWeightsAndOneForADominantWeight) {
  const int64_t k = 50;
  auto a = torch::full({k, 2}, -1234.5, kDouble);
  a.index_put_({7, 1}, 0.0);  // one weight e^1234 times the others: they vanish next to it
  const auto s = stream(a, {10, 10, 30});
  const auto ess = s.effective_sample_size();
  EXPECT_NEAR(ess[0].item<double>(), static_cast<double>(k), 1e-9);
  EXPECT_NEAR(ess[1].item<double>(), 1.0, 1e-12);
}

TEST(StreamingLogSumExp, EffectiveSampleSizeMatchesItsDefinition) {
  torch::manual_seed(2);
  const auto a = torch::randn({64, 5}, kDouble) * 2;
  const auto w = torch::exp(a);
  const auto reference = w.sum(0).square() / w.square().sum(0);
  EXPECT_TRUE(torch::allclose(stream(a, {5, 59}).effective_sample_size(), reference, 1e-12, 0));
}

TEST(StreamingLogSumExp, RejectsChunksOfAnotherShape) {
  StreamingLogSumExp s;
  s.add(torch::zeros({2, 3}));
  try {
    s.add(torch::zeros({2, 4}));
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected chunks of 3 examples"), std::string::npos) << e.what();
  }
  EXPECT_THROW(s.add(torch::zeros({3})), c10::Error);
}

}  // namespace
}  // namespace lvm::estimators
