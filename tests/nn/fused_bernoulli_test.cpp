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
