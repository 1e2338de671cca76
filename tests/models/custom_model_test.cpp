// A model defined here, outside lvm/, the way a user's project defines one: its options, its
// module and one registration. The config, the gradient trainer, run directories and the
// estimators take it with no change to lvm.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <torch/script.h>

#include <algorithm>

#include "lvm/config/config.h"
#include "lvm/distributions/bernoulli.h"
#include "lvm/distributions/normal.h"
#include "lvm/estimators/estimators.h"
#include "lvm/export/amortised.h"
#include "lvm/export/torchscript.h"
#include "lvm/models/registry.h"
#include "lvm/nn/decoder.h"
#include "lvm/nn/encoder.h"
#include "lvm/represent/encoding.h"
#include "lvm/represent/pictures.h"
#include "lvm/train/run_dir.h"
#include "lvm/train/trainer.h"
#include "tests/testing.h"

namespace lvm {
namespace {

// model.type: test_linear_vae — a linear Gaussian encoder and a one-layer decoder written here.
struct LinearVaeKeys : config::ModelOptionsBase<LinearVaeKeys>, ObjectiveConfig {
  int64_t latent_dim = 2;
  int64_t width = 12;

  void visit_fields(config::FieldVisitor& v) override {
    v.field("latent_dim", latent_dim, config::at_least(1));
    v.field("width", width, config::at_least(1));
    visit_objective_fields(v);
  }
  void check(const config::ExperimentConfig&, const config::RuleContext& context) const override {
    check_objective(context);
  }
  std::vector<std::string> training_keys() const override {
    return objective_keys();
  }
  int64_t samples_per_example() const override { return k; }
};

class LinearVae : public LatentVariableModel {
 public:
  LinearVae(int64_t data_dim, const LinearVaeKeys& keys)
      : data_dim_(data_dim),
        latent_dim_(keys.latent_dim),
        encoder_(register_module("encoder", torch::nn::Linear(data_dim, 2 * keys.latent_dim))),
        hidden_(register_module("hidden", torch::nn::Linear(keys.latent_dim, keys.width))),
        logits_(register_module("logits", torch::nn::Linear(keys.width, data_dim))) {}

  std::string kind() const override { return "test_linear_vae"; }
  int64_t data_dim() const override { return data_dim_; }
  int64_t latent_dim() const override { return latent_dim_; }
  bool needs_binary_data() const override { return true; }

  std::shared_ptr<Distribution> prior() override {
    return std::make_shared<Normal>(Normal::standard(latent_dim_, encoder_->weight.options()));
  }
  // z [S..., Z] -> Bernoulli over x [S..., D]
  std::shared_ptr<Distribution> likelihood(const torch::Tensor& z) override {
    return std::make_shared<Bernoulli>(logits_(torch::tanh(hidden_(z))));
  }
  // x [B, D] -> Normal over z [B, Z]
  std::shared_ptr<Distribution> proposal(const torch::Tensor& x) override {
    const auto out = encoder_(x).chunk(2, -1);
    return std::make_shared<Normal>(out[0], out[1]);
  }
  std::vector<torch::Tensor> proposal_parameters() override { return encoder_->parameters(); }

 private:
  int64_t data_dim_, latent_dim_;
  torch::nn::Linear encoder_, hidden_, logits_;
};

ModelSpec linear_vae_spec() {
  ModelSpec spec;
  spec.type = "test_linear_vae";
  spec.description = "a VAE defined in the test suite";
  spec.default_options = [] { return std::make_unique<LinearVaeKeys>(); };
  spec.build = [](const config::ModelOptions& options, const std::vector<int64_t>& data_shape) {
    int64_t data_dim = 1;
    for (const int64_t n : data_shape) data_dim *= n;
    return std::make_shared<LinearVae>(data_dim, options_as<LinearVaeKeys>(options));
  };
  spec.objective = [](const config::ModelOptions& options) {
    return make_objective(options_as<LinearVaeKeys>(options));
  };
  return spec;
}

const ModelRegistration registration(linear_vae_spec());

// model.type: test_parts_vae — lvm's parts (an MLP Gaussian encoder, an MLP Gaussian decoder)
// put together here; its export is the composition of the parts' own, with no export code.
class PartsVae : public LatentVariableModel {
 public:
  PartsVae(int64_t data_dim, const LinearVaeKeys& keys)
      : data_dim_(data_dim),
        latent_dim_(keys.latent_dim),
        encoder_(register_module("encoder", nn::GaussianEncoder(data_dim, std::vector<int64_t>{keys.width},
                                                                keys.latent_dim, "relu"))),
        decoder_(register_module("decoder",
                                 std::make_shared<nn::GaussianDecoderImpl>(
                                     keys.latent_dim, std::vector<int64_t>{keys.width}, data_dim, "elu"))) {}

  std::string kind() const override { return "test_parts_vae"; }
  int64_t data_dim() const override { return data_dim_; }
  int64_t latent_dim() const override { return latent_dim_; }
  std::shared_ptr<Distribution> prior() override {
    return std::make_shared<Normal>(Normal::standard(latent_dim_, decoder_->log_var().options()));
  }
  std::shared_ptr<Distribution> likelihood(const torch::Tensor& z) override { return decoder_->forward(z); }
  std::shared_ptr<Distribution> proposal(const torch::Tensor& x) override {
    return std::make_shared<Normal>(encoder_->forward(x));
  }
  std::vector<torch::Tensor> proposal_parameters() override { return encoder_->parameters(); }
  std::unique_ptr<torchscript::ModelScript> script() override {
    return std::make_unique<torchscript::ModelScript>(torchscript::amortised_model_script(
        *this, "ExportedPartsVae", encoder_->script(), decoder_->script(),
        torchscript::standard_normal_prior_script(latent_dim_, torch::kFloat)));
  }

 private:
  int64_t data_dim_, latent_dim_;
  nn::GaussianEncoder encoder_;
  std::shared_ptr<nn::GaussianDecoderImpl> decoder_;
};

ModelSpec parts_vae_spec() {
  ModelSpec spec = linear_vae_spec();
  spec.type = "test_parts_vae";
  spec.description = "a VAE of lvm's parts, put together in the test suite";
  spec.build = [](const config::ModelOptions& options, const std::vector<int64_t>& data_shape) {
    int64_t data_dim = 1;
    for (const int64_t n : data_shape) data_dim *= n;
    return std::make_shared<PartsVae>(data_dim, options_as<LinearVaeKeys>(options));
  };
  return spec;
}

const ModelRegistration parts_registration(parts_vae_spec());

config::ExperimentConfig linear_vae_config(const std::string& data_dir) {
  auto c = testing::tiny_vae_config(data_dir, 3);
  c.model.set_type("test_linear_vae");
  c.model.get<LinearVaeKeys>().width = 9;
  return c;
}

TEST(CustomModel, ItsKeysAreReadWithTheSameRules) {
  const auto types = registered_model_types();
  EXPECT_NE(std::find(types.begin(), types.end(), "test_linear_vae"), types.end());
  const auto c = config::parse_config("model:\n  type: test_linear_vae\n  width: 5\n  k: 3\n", "x.yaml");
  EXPECT_EQ(c.model.get<LinearVaeKeys>().width, 5);
  EXPECT_EQ(c.model.get<LinearVaeKeys>().k, 3);
  try {
    config::parse_config("model:\n  type: test_linear_vae\n  width: 0\n", "x.yaml");
    FAIL() << "expected an error";
  } catch (const config::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "x.yaml:3: model.width: expected an integer >= 1, got 0");
  }
  try {
    config::parse_config("model:\n  type: test_linear_vae\n  encoder_hidden: [4]\n", "x.yaml");
    FAIL() << "expected an error";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("x.yaml:3: model.encoder_hidden: unknown key for model.type "
                                         "test_linear_vae: it is a key of vae"),
              std::string::npos)
        << e.what();
  }
  // The resolved config.yaml holds its keys, and reads back.
  const std::string yaml = config::to_yaml(c);
  EXPECT_NE(yaml.find("width: 5"), std::string::npos) << yaml;
  EXPECT_EQ(config::parse_config(yaml, "resolved"), c);
}

TEST(CustomModel, TrainsResumesLoadsAndIsEvaluated) {
  testing::TempDir dir;
  testing::write_tiny_mnist(dir.file("data"), 400, 100);
  const auto c = linear_vae_config(dir.file("data"));
  train::TrainRequest request;
  request.config = c;
  request.run_dir = dir.file("run");
  const util::Json line = train::run_training(request);
  EXPECT_NE(line.dump(0).find("\"epochs\":3"), std::string::npos) << line.dump(0);

  const auto run = train::load_run(dir.file("run"), "best");
  EXPECT_EQ(run.model->kind(), "test_linear_vae");
  EXPECT_EQ(run.config.model.get<LinearVaeKeys>().width, 9);
  EXPECT_EQ(run.state.data_shape, (std::vector<int64_t>{1, 8, 8}));

  // Binary x: p(x) <= 1, so every estimate of log p(x) is <= 0; and the importance-weighted bound
  // rises with K (Burda et al.), here over 100 examples, well beyond the Monte Carlo noise.
  torch::manual_seed(0);
  const auto x = (torch::rand({100, 64}) < 0.5).to(torch::kFloat);
  torch::NoGradGuard no_grad;
  const auto one = estimators::importance_sampling(*run.model, x, estimators::SamplingOptions(1));
  const auto many = estimators::importance_sampling(*run.model, x, estimators::SamplingOptions(500, 100));
  EXPECT_TRUE((many.log_px <= 0).all().item<bool>());
  EXPECT_GT(many.log_px.mean().item<double>(), one.log_px.mean().item<double>());

  // A checkpoint of the same model with another architecture key is refused by name.
  auto wider = c;
  wider.model.get<LinearVaeKeys>().width = 10;
  testing::write_file(dir.file("run/config.yaml"), config::to_yaml(wider));
  try {
    train::load_run(dir.file("run"), "best");
    FAIL() << "expected an error";
  } catch (const train::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("model.width is 10 in config.yaml but 9 in the checkpoint"),
              std::string::npos)
        << e.what();
  }
}

TEST(CustomModel, AModelOfLvmsPartsIsTrainedEncodedSampledAndExportedWithNoExportCode) {
  testing::TempDir dir;
  testing::write_tiny_mnist(dir.file("data"), 400, 100);
  auto c = linear_vae_config(dir.file("data"));
  c.model.set_type("test_parts_vae");
  c.data.binarize = "none";  // a Gaussian decoder on grey levels
  train::TrainRequest request;
  request.config = c;
  request.run_dir = dir.file("run");
  train::run_training(request);
  const auto run = train::load_run(dir.file("run"), "best");
  ASSERT_EQ(run.model->kind(), "test_parts_vae");

  torch::manual_seed(1);
  const auto x = torch::rand({6, 64});
  torch::NoGradGuard no_grad;
  // Representation and pictures through the library's entry points.
  const auto encoding = represent::encode(*run.model, x, {});
  EXPECT_EQ(encoding.mean.sizes(), (std::vector<int64_t>{6, 2}));
  EXPECT_EQ(represent::prior_samples(*run.model, 5).sizes(), (std::vector<int64_t>{5, 64}));

  // The export checks every method against the model before it writes the file; here the
  // methods a user calls are checked once more, on other inputs.
  const auto exported = torchscript::export_run(dir.file("run"), "best", dir.file("parts.pt"));
  EXPECT_EQ(exported.methods.front(), "encode");
  auto m = torch::jit::load(dir.file("parts.pt"));
  EXPECT_EQ(m.attr("model_kind").toStringRef(), "test_parts_vae");
  EXPECT_EQ(m.attr("likelihood").toStringRef(), "gaussian");
  const auto encoded = m.get_method("encode")({x.reshape({6, 1, 8, 8})}).toTuple();
  EXPECT_TRUE(torch::allclose(encoded->elements()[0].toTensor(), encoding.mean, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(encoded->elements()[1].toTensor(), encoding.log_var, 1e-5, 1e-6));
  torch::manual_seed(9);
  const auto native = iwae(*run.model, x, 30).value;
  torch::manual_seed(9);
  const auto ll = m.get_method("log_likelihood")({x, int64_t{30}, int64_t{30}}).toTensor();
  EXPECT_TRUE(torch::allclose(ll, native, 1e-5, 1e-4)) << ll << native;
}

}  // namespace
}  // namespace lvm
