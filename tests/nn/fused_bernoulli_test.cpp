// The fused Bernoulli log-likelihood used for evaluation against the plain formula in double.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "lvm/distributions/bernoulli.h"
#include "lvm/models/vae/vae.h"
#include "lvm/nn/fused_bernoulli.h"
#include "lvm/nn/mlp.h"

namespace lvm::nn {
namespace {

// Σ_d softplus(l_d) in double, the stable way.
torch::Tensor reference_softplus_sum(const torch::Tensor& logits) {
  const auto l = logits.to(torch::kDouble);
  return (torch::relu(l) + torch::log1p(torch::exp(-l.abs()))).sum(-1);
}

TEST(SoftplusSum, MatchesTheDoubleReferenceOverTheWholeRange) {
  torch::manual_seed(0);
  // Widths around the kernel's 8- and 32-wide steps, MNIST's 784, and one long enough (3000) to
  // renormalise its running products; logits from ±1e4 (softplus = relu exactly) to 0.
  for (int64_t dim : {1, 5, 8, 37, 784, 3000}) {
    auto logits = torch::randn({17, dim}) * 6;
    logits[0].fill_(0);
    logits[1].fill_(1e4);
    logits[2].fill_(-1e4);
    logits[3] = torch::randn({dim}) * 40;
    const auto reference = reference_softplus_sum(logits);
    // Float rounding: ~1e-7 nats per pixel term (the factors 1 + e^-|l| and their products), and a
    // relative 1e-7 for the final float of the sum.
    const auto tolerance = 2e-7 * static_cast<double>(dim) + 2e-7 * reference.abs();
    for (const auto& fused : {softplus_sum(logits), detail::softplus_sum_portable(logits)}) {
      EXPECT_TRUE(((fused.to(torch::kDouble) - reference).abs() <= tolerance).all().item<bool>())
          << "dim " << dim << ": max error "
          << (fused.to(torch::kDouble) - reference).abs().max().item<double>();
    }
  }
  EXPECT_NEAR(softplus_sum(torch::zeros({1, 784}))[0].item<double>(), 784 * std::log(2.0), 1e-3);
}

TEST(SoftplusSum, KeepsLeadingShapeAndFallsBackForOtherDtypes) {
  torch::manual_seed(1);
  const auto logits = torch::randn({2, 3, 10});
  EXPECT_EQ(softplus_sum(logits).sizes(), torch::IntArrayRef({2, 3}));
  const auto in_double = logits.to(torch::kDouble);
  EXPECT_TRUE(torch::allclose(softplus_sum(in_double), reference_softplus_sum(in_double), 0, 1e-12));
}

TEST(BernoulliLinearLogLikelihood, EqualsBernoulliLogProbOfTheLogits) {
  torch::manual_seed(2);
  const int64_t k = 3, batch = 4, hidden = 9, dim = 50;
  const auto x = torch::bernoulli(torch::full({batch, dim}, 0.3));
  const auto h = torch::randn({k, batch, hidden});
  const auto weight = torch::randn({dim, hidden});
  const auto bias = torch::randn({dim});
  const auto fused = bernoulli_linear_log_likelihood(x, h, weight, bias);
  const auto d = [](const torch::Tensor& t) { return t.to(torch::kDouble); };
  const auto logits = torch::matmul(d(h), d(weight).t()) + d(bias);
  const auto reference = Bernoulli(logits).log_prob(d(x));
  EXPECT_EQ(fused.sizes(), torch::IntArrayRef({k, batch}));
  EXPECT_TRUE(torch::allclose(d(fused), reference, 1e-5, 1e-4)) << fused << reference;
  // Grey levels in [0, 1] go through the same algebra (a cross-entropy then).
  const auto grey = torch::rand({batch, dim});
  EXPECT_TRUE(torch::allclose(d(bernoulli_linear_log_likelihood(grey, h, weight, bias)),
                              Bernoulli(logits).log_prob(d(grey)), 1e-5, 1e-4));
}

TEST(BernoulliLinearLogLikelihood, RejectsMismatchedShapes) {
  try {
    bernoulli_linear_log_likelihood(torch::zeros({4, 10}), torch::zeros({2, 3, 5}), torch::zeros({10, 5}),
                                    torch::zeros({10}));
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected h of shape [K, 4, H], got [2, 3, 5]"), std::string::npos)
        << e.what();
  }
}

// The training form: value and gradient against the plain formula in double, over widths around
// the kernel's 8-wide step and logits from the saturated ends to zero; x broadcast over samples.
TEST(BernoulliLogProb, ValueAndGradientMatchTheDoubleReference) {
  torch::manual_seed(1);
  for (int64_t dim : {1, 7, 8, 29, 784}) {
    auto logits = (torch::randn({3, 5, dim}) * 6);
    logits[0][0].fill_(0);
    logits[0][1].fill_(60);
    logits[0][2].fill_(-60);
    logits.requires_grad_();
    const auto x = torch::bernoulli(torch::full({5, dim}, 0.4));
    const auto value = bernoulli_log_prob(logits, x);
    ASSERT_EQ(value.sizes(), (std::vector<int64_t>{3, 5}));
    const auto g = torch::randn({3, 5});
    (value * g).sum().backward();

    const auto reference_logits = logits.detach().to(torch::kDouble).requires_grad_();
    const auto xd = x.to(torch::kDouble);
    const auto reference = (xd * reference_logits - torch::softplus(reference_logits)).sum(-1);
    (reference * g.to(torch::kDouble)).sum().backward();
    // Float rounding: a few units of 1e-7 relative to the sum of the terms' magnitudes.
    const auto magnitude =
        ((xd * reference_logits).abs() + torch::softplus(reference_logits)).sum(-1).detach();
    EXPECT_TRUE(((value.to(torch::kDouble) - reference).abs() <= 1e-6 * magnitude + 1e-6).all().item<bool>())
        << "dim " << dim;
    EXPECT_LT((logits.grad().to(torch::kDouble) - reference_logits.grad()).abs().max().item<double>(), 1e-6)
        << "dim " << dim;
  }
}

TEST(BernoulliLogProb, OtherShapesAndDtypesTakeThePlainForm) {
  const auto logits = torch::randn({4, 6}, torch::kDouble).requires_grad_();
  const auto x = torch::bernoulli(torch::full({4, 6}, 0.5, torch::kDouble));
  EXPECT_TRUE(torch::allclose(bernoulli_log_prob(logits, x), Bernoulli(logits).log_prob(x)));
  // An x that needs its own gradient (not data) keeps autograd's form, which has it.
  const auto soft_x = torch::rand({4, 6}).requires_grad_();
  bernoulli_log_prob(torch::randn({4, 6}), soft_x).sum().backward();
  EXPECT_TRUE(soft_x.grad().defined());
}

TEST(Mlp, HiddenThenOutputLayerIsForward) {
  torch::manual_seed(3);
  Mlp mlp(MlpOptions(3, {4, 5}, 2).activation("relu"));
  const auto x = torch::randn({6, 3});
  EXPECT_TRUE(torch::allclose(mlp->output_layer()(mlp->hidden(x)), mlp->forward(x), 0, 0));
  Mlp linear(MlpOptions(3, {}, 2));
  EXPECT_TRUE(torch::equal(linear->hidden(x), x));
}

TEST(BernoulliDecoder, EvaluationPathMatchesTheTrainingPath) {
  // Without gradients the decoder takes the fused form, a block of samples at a time; 3 examples x
  // 6000 samples span two blocks (of 16384 rows).
  torch::manual_seed(4);
  Vae vae(VaeOptions(20, 3).decoder_hidden({16, 8}));
  const auto x = torch::bernoulli(torch::full({3, 20}, 0.4));
  const auto z = torch::randn({6000, 3, 3});
  const auto plain = vae.log_likelihood(x, z);  // gradients on: the plain form
  ASSERT_TRUE(plain.requires_grad());
  torch::NoGradGuard no_grad;
  const auto fused = vae.log_likelihood(x, z);
  EXPECT_EQ(fused.sizes(), plain.sizes());
  EXPECT_TRUE(torch::allclose(fused, plain.detach(), 1e-5, 1e-4))
      << (fused - plain.detach()).abs().max().item<double>();
}

}  // namespace
}  // namespace lvm::nn
