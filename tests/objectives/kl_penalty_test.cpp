// The ELBO's KL options (β, warm-up, free bits): the loss they give against closed forms and
// against the plain ELBO drawn with the same noise, the β a warm-up gives at each step, and the
// config rules that keep them to the ELBO.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "lvm/config/config.h"
#include "lvm/distributions/kl.h"
#include "lvm/distributions/normal.h"
#include "lvm/models/linear_gaussian/linear_gaussian.h"
#include "lvm/models/vae/vae.h"
#include "lvm/models/vae/vae_config.h"
#include "lvm/objectives/objective.h"

namespace lvm {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

// The linear-Gaussian model (prior N(0, I) over 2 latent dimensions) with a fixed diagonal
// Gaussian proposal, so that the KL per dimension is known in closed form.
class LinearGaussianWithProposal : public LinearGaussian {
 public:
  explicit LinearGaussianWithProposal(Normal q)
      : LinearGaussian(torch::tensor({{1.0, 0.5}, {-0.3, 0.8}, {0.2, -1.1}}, kDouble),
                       torch::tensor({0.1, -0.2, 0.3}, kDouble), 0.7),
        q_(std::move(q)) {}
  std::shared_ptr<Distribution> proposal(const torch::Tensor&) override {
    return std::make_shared<Normal>(q_);
  }

 private:
  Normal q_;
};

const torch::Tensor& data() {
  static const torch::Tensor x = torch::tensor({{0.5, -0.4, 1.2}, {-1.0, 0.3, 0.0}}, kDouble);
  return x;
}

Normal fixed_proposal() {
  return Normal(torch::tensor({{0.2, -1.5}, {0.4, 1.0}}, kDouble),
                torch::tensor({{-1.0, -0.5}, {-0.7, -1.2}}, kDouble));
}

// ½ (μ² + σ² − 1 − log σ²) per dimension, written out here: KL(N(μ, σ²) || N(0, 1)).
torch::Tensor closed_form_kl_per_dim(const Normal& q) {
  return 0.5 * (q.mean().pow(2) + q.log_var().exp() - 1.0 - q.log_var());
}

ObjectiveResult elbo_seeded(LatentVariableModel& model, const torch::Tensor& x, const KlPenalty& penalty,
                            uint64_t seed = 3) {
  torch::manual_seed(seed);
  return elbo(model, x, 4, KlMode::kAnalytic, penalty);
}

std::vector<torch::Tensor> gradients(Vae& model, const ObjectiveResult& result) {
  for (auto& p : model.parameters()) p.mutable_grad() = torch::Tensor();
  result.backward();
  std::vector<torch::Tensor> grads;
  for (const auto& p : model.parameters()) grads.push_back(p.grad().clone());
  return grads;
}

std::shared_ptr<Vae> tiny_vae() {
  torch::manual_seed(0);
  auto model = std::make_shared<Vae>(VaeOptions(6, 4).encoder_hidden({5}).decoder_hidden({5}));
  model->to(torch::kDouble);
  return model;
}

torch::Tensor tiny_batch() {
  torch::manual_seed(1);
  return torch::bernoulli(torch::full({3, 6}, 0.4, kDouble));
}

TEST(KlDivergencePerDim, IsTheClosedFormAndSumsToTheKl) {
  const Normal q = fixed_proposal();
  const Normal prior = Normal::standard(2, kDouble);
  const auto per_dim = kl_divergence_per_dim(q, prior);
  EXPECT_TRUE(torch::allclose(per_dim, closed_form_kl_per_dim(q), 0, 1e-14));
  EXPECT_TRUE(torch::allclose(per_dim.sum(-1), kl_divergence(q, prior), 0, 1e-14));
  EXPECT_TRUE(torch::allclose(*analytic_kl_per_dim(q, prior), per_dim, 0, 0));
}

TEST(KlPenalty, WeightOneWithoutFreeBitsIsTheElboExactly) {
  LinearGaussianWithProposal model(fixed_proposal());
  torch::manual_seed(3);
  const auto plain = elbo(model, data(), 4, KlMode::kAnalytic);
  const auto penalised = elbo_seeded(model, data(), KlPenalty{});
  EXPECT_FALSE(penalised.surrogate);
  EXPECT_EQ(penalised.kl_weight, 1.0);
  EXPECT_TRUE(torch::equal(penalised.loss, plain.loss));
  EXPECT_TRUE(torch::equal(penalised.value, plain.value));
}

TEST(KlPenalty, BetaWeightsTheKlInTheLossOnlyAndTheGradientIsLinearInIt) {
  LinearGaussianWithProposal model(fixed_proposal());
  const auto plain = elbo_seeded(model, data(), KlPenalty{});
  const auto weighted = elbo_seeded(model, data(), KlPenalty{0.25, 0, 1});
  EXPECT_TRUE(weighted.surrogate);
  EXPECT_EQ(weighted.kl_weight, 0.25);
  // The value is the ELBO; the loss is −mean(rec − β KL) with the same draws.
  EXPECT_TRUE(torch::equal(weighted.value, plain.value));
  EXPECT_NEAR(weighted.loss.item<double>(), -(plain.rec - 0.25 * plain.kl).mean().item<double>(), 1e-12);

  // On a network: ∇ loss_β = (1 − β) ∇ loss_0 + β ∇ loss_1, the reconstruction and KL gradients mixed.
  const auto vae_ptr = tiny_vae();
  Vae& vae = *vae_ptr;
  const auto x = tiny_batch();
  const auto g0 = gradients(vae, elbo_seeded(vae, x, KlPenalty{0, 0, 1}));
  const auto g1 = gradients(vae, elbo_seeded(vae, x, KlPenalty{}));
  const auto g_beta = gradients(vae, elbo_seeded(vae, x, KlPenalty{0.3, 0, 1}));
  for (size_t i = 0; i < g0.size(); ++i) {
    EXPECT_TRUE(torch::allclose(g_beta[i], 0.7 * g0[i] + 0.3 * g1[i], 1e-10, 1e-12)) << "parameter " << i;
  }
}

TEST(FreeBits, ClampTheBatchMeanKlOfEachGroup) {
  LinearGaussianWithProposal model(fixed_proposal());
  const auto plain = elbo_seeded(model, data(), KlPenalty{});
  const auto kl = closed_form_kl_per_dim(fixed_proposal()).mean(0);  // [2] batch means per dimension
  const double low = std::min(kl[0].item<double>(), kl[1].item<double>());
  const double high = std::max(kl[0].item<double>(), kl[1].item<double>());
  ASSERT_LT(low + 0.1, high);
  const double rec = plain.rec.mean().item<double>();

  // Per dimension, λ between the two: the low dimension is lifted to λ, the other counts as is.
  const double lambda = 0.5 * (low + high);
  const auto per_dim = elbo_seeded(model, data(), KlPenalty{1, lambda, 1});
  EXPECT_TRUE(per_dim.surrogate);
  EXPECT_NEAR(per_dim.loss.item<double>(), -(rec - (lambda + high)), 1e-12);
  EXPECT_TRUE(torch::equal(per_dim.value, plain.value));
  // One group of both dimensions: their sum is compared with λ.
  const auto grouped = elbo_seeded(model, data(), KlPenalty{1, low + high + 1, 2});
  EXPECT_NEAR(grouped.loss.item<double>(), -(rec - (low + high + 1)), 1e-12);
  const auto grouped_above = elbo_seeded(model, data(), KlPenalty{0.5, low + high - 0.1, 2});
  EXPECT_NEAR(grouped_above.loss.item<double>(), -(rec - 0.5 * (low + high)), 1e-12);
}

TEST(FreeBits, AClampedKlSendsNoGradientAndAnUnclampedOneAllOfIt) {
  const auto vae_ptr = tiny_vae();
  Vae& vae = *vae_ptr;
  const auto x = tiny_batch();
  // λ far above any KL: the KL term is a constant, so the gradient is the reconstruction's alone.
  const auto no_kl = gradients(vae, elbo_seeded(vae, x, KlPenalty{0, 0, 1}));
  const auto clamped = gradients(vae, elbo_seeded(vae, x, KlPenalty{1, 1e6, 1}));
  // λ far below: Σ_d mean_b KL_{b,d} is the mean KL, so the gradient is the ELBO's.
  const auto elbo_grads = gradients(vae, elbo_seeded(vae, x, KlPenalty{}));
  const auto unclamped = gradients(vae, elbo_seeded(vae, x, KlPenalty{1, 1e-300, 1}));
  for (size_t i = 0; i < no_kl.size(); ++i) {
    EXPECT_TRUE(torch::allclose(clamped[i], no_kl[i], 1e-12, 1e-14)) << "parameter " << i;
    EXPECT_TRUE(torch::allclose(unclamped[i], elbo_grads[i], 1e-10, 1e-13)) << "parameter " << i;
  }
}

TEST(FreeBits, RefuseAMonteCarloKlAndAGroupThatDoesNotDivideTheLatent) {
  LinearGaussianWithProposal model(fixed_proposal());
  EXPECT_THROW(elbo(model, data(), 1, KlMode::kMonteCarlo, KlPenalty{1, 0.5, 1}), c10::Error);
  EXPECT_THROW(elbo(model, data(), 1, KlMode::kAnalytic, KlPenalty{1, 0.5, 3}), c10::Error);
  EXPECT_THROW(elbo(model, data(), 1, KlMode::kAnalytic, KlPenalty{-1, 0, 1}), c10::Error);
}

TEST(KlWarmup, GivesTheStatedBetaAtEachStep) {
  const int64_t steps_per_epoch = 10;
  for (int64_t step = 1; step <= 35; ++step) {
    const double expected = 0.8 * std::min(1.0, static_cast<double>(step) / 20.0);
    EXPECT_DOUBLE_EQ(warmed_up_kl_weight(0.8, 2, TrainingClock{step, steps_per_epoch}), expected) << step;
  }
  // Outside training (step 0), and without a warm-up, the weight itself.
  EXPECT_EQ(warmed_up_kl_weight(0.8, 2, TrainingClock{}), 0.8);
  EXPECT_EQ(warmed_up_kl_weight(0.8, 0, TrainingClock{3, steps_per_epoch}), 0.8);
}

TEST(KlWarmup, TheConfiguredObjectiveFollowsTheClockAndEndsAtThePlainElbo) {
  VaeConfig keys;
  keys.k = 4;  // as elbo_seeded
  keys.kl_warmup_epochs = 4;
  const Objective objective = make_objective(keys);
  LinearGaussianWithProposal model(fixed_proposal());
  const auto at = [&](int64_t step) {
    torch::manual_seed(3);
    return objective(model, data(), TrainingClock{step, 5});
  };
  const auto plain = elbo_seeded(model, data(), KlPenalty{});
  const auto early = at(5);  // one epoch of four: β = 1/4
  EXPECT_EQ(early.kl_weight, 0.25);
  EXPECT_TRUE(early.surrogate);
  EXPECT_NEAR(early.loss.item<double>(), -(plain.rec - 0.25 * plain.kl).mean().item<double>(), 1e-12);
  for (const int64_t step : {20, 21, 0}) {  // the warm-up's end, after it, outside training
    const auto late = at(step);
    EXPECT_EQ(late.kl_weight, 1.0) << step;
    EXPECT_FALSE(late.surrogate) << step;
    EXPECT_TRUE(torch::equal(late.loss, plain.loss)) << step;
  }
}

std::string parse_error(const std::string& yaml) {
  try {
    config::parse_config(yaml, "x.yaml");
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(KlOptionsConfig, AreReadAndKeptToTheElbo) {
  const auto config = config::parse_config(
      "model:\n  kl_weight: 0.5\n  kl_warmup_epochs: 10\n  free_bits: 0.25\n  free_bits_group: 5\n",
      "x.yaml");
  const auto& keys = config.model.get<VaeConfig>();
  EXPECT_EQ(keys.kl_weight, 0.5);
  EXPECT_EQ(keys.kl_warmup_epochs, 10);
  EXPECT_EQ(keys.free_bits, 0.25);
  EXPECT_EQ(keys.free_bits_group, 5);
  EXPECT_EQ(config::parse_config(config::to_yaml(config), "x"), config);

  const std::string iwae = parse_error("model:\n  objective: iwae\n  k: 5\n  kl_weight: 0.5\n");
  EXPECT_EQ(iwae.rfind("x.yaml:4: model.kl_weight: ", 0), 0u) << iwae;
  EXPECT_NE(iwae.find("needs model.objective: elbo, got 'iwae'"), std::string::npos) << iwae;
  const std::string warmup = parse_error("model:\n  objective: iwae\n  k: 5\n  kl_warmup_epochs: 3\n");
  EXPECT_NE(warmup.find("model.kl_warmup_epochs"), std::string::npos) << warmup;
  const std::string mc = parse_error("model:\n  kl: mc\n  free_bits: 0.5\n");
  EXPECT_NE(mc.find("model.free_bits"), std::string::npos) << mc;
  EXPECT_NE(mc.find("model.kl: analytic"), std::string::npos) << mc;
  const std::string group = parse_error("model:\n  latent_dim: 50\n  free_bits: 0.5\n  free_bits_group: 3\n");
  EXPECT_NE(group.find("model.free_bits_group"), std::string::npos) << group;
  EXPECT_NE(group.find("does not divide model.latent_dim 50"), std::string::npos) << group;
  EXPECT_NE(parse_error("model:\n  kl_weight: -1\n").find("model.kl_weight"), std::string::npos);
  EXPECT_NE(parse_error("model:\n  free_bits_group: 0\n").find("model.free_bits_group"), std::string::npos);
}

}  // namespace
}  // namespace lvm
