#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "lvm/config/config.h"
#include "lvm/models/gmm/gmm_config.h"
#include "lvm/models/linear_gaussian/linear_gaussian.h"
#include "lvm/models/registry.h"
#include "lvm/models/vae/vae.h"
#include "lvm/models/vae/vae_config.h"

namespace lvm {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

TEST(LinearGaussian, ExactMarginalMatchesNumericalIntegration) {
  // One latent dimension: integrate p(z) p(x|z) on a fine grid.
  LinearGaussian model(torch::tensor({{1.5}, {-0.5}}, kDouble), torch::tensor({0.2, 0.1}, kDouble), 0.6);
  const auto x = torch::tensor({{1.0, -0.3}}, kDouble);
  const auto z = torch::linspace(-10, 10, 200001, kDouble).reshape({-1, 1, 1});  // [K, B=1, Z=1]
  const auto log_joint = model.log_joint(x, z);                                  // [K, 1]
  const double dz = 20.0 / 200000;
  const double numeric = (torch::logsumexp(log_joint, 0) + std::log(dz)).item<double>();
  EXPECT_NEAR(model.exact_log_marginal(x)->item<double>(), numeric, 1e-8);
}

TEST(LinearGaussian, PosteriorIsProportionalToJoint) {
  // log p(z|x) = log p(x, z) − log p(x) for any z.
  LinearGaussian model(torch::tensor({{1.0, 0.5}, {-0.3, 0.8}, {0.2, -1.1}}, kDouble),
                       torch::tensor({0.1, -0.2, 0.3}, kDouble), 0.7);
  const auto x = torch::tensor({{0.5, -0.4, 1.2}, {-1.0, 0.3, 0.0}}, kDouble);
  const auto z = torch::randn({4, 2, 2}, kDouble);
  const auto lhs = model.posterior(x).log_prob(z);
  const auto rhs = model.log_joint(x, z) - *model.exact_log_marginal(x);
  EXPECT_TRUE(torch::allclose(lhs, rhs, 1e-9, 1e-9));
}

TEST(Vae, ShapesOfEveryPart) {
  auto model = make_model(
      [] {
        config::ModelConfig c("vae");
        auto& vae = c.get<VaeConfig>();
        vae.latent_dim = 3;
        vae.encoder.hidden = {8};
        vae.decoder.hidden = {8, 8};
        return c;
      }(),
      {10});
  const auto x = torch::rand({4, 10}).round();
  EXPECT_EQ(model->proposal(x)->sample({5}).sizes(), (std::vector<int64_t>{5, 4, 3}));
  const auto z = model->prior()->sample({5, 4});
  EXPECT_EQ(model->log_likelihood(x, z).sizes(), (std::vector<int64_t>{5, 4}));
  EXPECT_EQ(model->log_joint(x, z).sizes(), (std::vector<int64_t>{5, 4}));
  const auto samples = model->sample(6);
  EXPECT_EQ(samples.sizes(), (std::vector<int64_t>{6, 10}));
  EXPECT_TRUE(((samples == 0) | (samples == 1)).all().item<bool>());
  EXPECT_EQ(model->proposal_parameters().size() + model->generative_parameters().size(),
            model->parameters().size());
}

TEST(Vae, FusedLogLikelihoodEqualsDistributionLogProb) {
  Vae model(VaeOptions(6, 2).encoder_hidden({4}).decoder_hidden({4}));
  const auto x = torch::rand({3, 6}).round();
  const auto z = torch::randn({2, 3, 2});
  EXPECT_TRUE(torch::allclose(model.log_likelihood(x, z), model.likelihood(z)->log_prob(x)));
}

TEST(Vae, RejectsInputOfTheWrongWidth) {
  Vae model(VaeOptions(6, 2).encoder_hidden({4}).decoder_hidden({4}));
  try {
    model.proposal(torch::zeros({3, 7}));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected x of shape [B, 6], got [3, 7]"), std::string::npos)
        << e.what();
  }
}

TEST(Registry, UnknownModelAndLikelihoodAreClearErrors) {
  try {
    config::ModelConfig c("flow");
    FAIL() << "expected an error";
  } catch (const config::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("model.type: no model 'flow' is registered (registered: gmm, linear_gaussian, "),
              std::string::npos)
        << what;
    EXPECT_NE(what.find(", vae"), std::string::npos) << what;
  }
  config::ModelConfig c("vae");
  c.get<VaeConfig>().likelihood = "poisson";
  try {
    make_model(c, {4});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown likelihood 'poisson'"), std::string::npos);
  }
  EXPECT_THROW(make_model(c, {0}), std::invalid_argument);
}

TEST(Registry, OptionsOfAnotherModelAreRefused) {
  config::ModelConfig c("gmm");
  try {
    c.get<VaeConfig>();
    FAIL() << "expected an error";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model.type is gmm"), std::string::npos) << e.what();
  }
  // A copy owns its options.
  config::ModelConfig copy = c;
  copy.get<GmmConfig>().components = 3;
  EXPECT_EQ(c.get<GmmConfig>().components, 8);
}

TEST(Registry, RefusesATakenTypeAndAnIncompleteSpec) {
  ModelSpec spec = model_spec("vae");
  EXPECT_THROW(register_model(spec), std::invalid_argument);
  spec.type = "vae_without_build";
  spec.build = nullptr;
  EXPECT_THROW(register_model(spec), std::invalid_argument);
  const auto types = registered_model_types();
  EXPECT_EQ(std::count(types.begin(), types.end(), "vae_without_build"), 0);
}

}  // namespace
}  // namespace lvm
