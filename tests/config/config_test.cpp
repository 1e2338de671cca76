#include "lvm/config/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "lvm/models/gmm/gmm_config.h"
#include "lvm/models/registry.h"
#include "lvm/models/vae/vae_config.h"
#include "lvm/nn/part_config.h"
#include "tests/testing.h"

namespace {

using lvm::GmmConfig;
using lvm::VaeConfig;
using lvm::config::apply_override;
using lvm::config::ConfigError;
using lvm::config::ExperimentConfig;
using lvm::config::load_config;
using lvm::config::parse_config;
using lvm::config::to_yaml;
using lvm::config::validate;

// The registered model types as model.type's rule lists them (the suite registers a model of its
// own, tests/models/custom_model_test.cpp).
std::string registered_types() {
  std::string out;
  for (const auto& type : lvm::registered_model_types()) out += (out.empty() ? "" : "|") + type;
  return out;
}

// The message of the ConfigError that parsing `yaml` (as "x.yaml") with `overrides` throws; fails
// the test if none is thrown.
std::string parse_error(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(yaml, "x.yaml", overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for:\n" << yaml;
  return "";
}

std::string override_error(const std::string& assignment) {
  ExperimentConfig config;
  try {
    apply_override(config, assignment);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for --set " << assignment;
  return "";
}

TEST(Config, EmptyTextGivesDefaults) {
  const ExperimentConfig config = parse_config("", "x.yaml");
  EXPECT_EQ(config, ExperimentConfig{});
  EXPECT_EQ(config.name, "experiment");
  EXPECT_EQ(config.device, "auto");
  EXPECT_EQ(config.model.get<VaeConfig>().latent_dim, 50);
  EXPECT_EQ(config.model.get<VaeConfig>().encoder.hidden, (std::vector<int64_t>{200, 200}));
  EXPECT_EQ(config.data.binarize, "dynamic");
  EXPECT_EQ(config.train.lr, 1e-3);
  EXPECT_EQ(config.train.eps, 1e-8);
  EXPECT_EQ(config.output.run_dir, "");
}

TEST(Config, AbsentKeysKeepDefaults) {
  const ExperimentConfig config = parse_config(
      "name: run1\n"
      "model:\n"
      "  latent_dim: 20\n"
      "train:\n"
      "  batch_size: 64\n"
      "data:\n",  // an empty section is all defaults
      "x.yaml");
  EXPECT_EQ(config.name, "run1");
  EXPECT_EQ(config.model.get<VaeConfig>().latent_dim, 20);
  EXPECT_EQ(config.train.batch_size, 64);
  // Untouched keys, in touched and untouched sections.
  EXPECT_EQ(config.model.get<VaeConfig>().encoder.activation, "tanh");
  EXPECT_EQ(config.model.get<VaeConfig>().decoder.hidden, (std::vector<int64_t>{200, 200}));
  EXPECT_EQ(config.train.epochs, 50);
  EXPECT_EQ(config.train.beta2, 0.999);
  EXPECT_EQ(config.data.validation_size, 10000);
  EXPECT_EQ(config.output.progress, "auto");
  EXPECT_EQ(config.threads, 0);
}

TEST(Config, ParsesEveryType) {
  const ExperimentConfig config = parse_config(
      "device: cuda:1\n"
      "model:\n"
      "  encoder:\n"
      "    hidden: [400]\n"
      "  decoder: {hidden: []}\n"
      "  objective: iwae\n"
      "  k: 5\n"
      "  iwae_gradient: dreg\n"
      "data:\n"
      "  binarize: none\n"
      "  bernoulli_on_grey: true\n"
      "  validation_size: 0\n"
      "train:\n"
      "  lr: 3e-4\n"
      "  gamma: 1\n"
      "  grad_clip: +2.5\n"
      "  optimizer: adamw\n"
      "  weight_decay: 0.01\n"
      "output:\n"
      "  run_dir: \"\"\n",
      "x.yaml");
  EXPECT_EQ(config.device, "cuda:1");
  EXPECT_EQ(config.model.get<VaeConfig>().encoder.hidden, (std::vector<int64_t>{400}));
  EXPECT_TRUE(config.model.get<VaeConfig>().decoder.hidden.empty());
  EXPECT_EQ(config.model.get<VaeConfig>().k, 5);
  EXPECT_TRUE(config.data.bernoulli_on_grey);
  EXPECT_EQ(config.data.validation_size, 0);
  EXPECT_EQ(config.train.lr, 3e-4);
  EXPECT_EQ(config.train.gamma, 1.0);  // an integer is a valid number
  EXPECT_EQ(config.train.grad_clip, 2.5);
  EXPECT_EQ(config.train.optimizer, "adamw");
  EXPECT_EQ(config.train.weight_decay, 0.01);
  EXPECT_EQ(config.output.run_dir, "");
}

TEST(Config, ResolvedRunDir) {
  ExperimentConfig config;
  config.name = "abc";
  EXPECT_EQ(config.resolved_run_dir(), "runs/abc");
  config.output.run_dir = "/tmp/elsewhere";
  EXPECT_EQ(config.resolved_run_dir(), "/tmp/elsewhere");
}

// --- Errors in files: source, 1-based line, key path, what was wrong. ---

TEST(ConfigErrors, UnknownKeySuggestsClosest) {
  EXPECT_EQ(parse_error("name: a\ntrain:\n  lr: 0.1\n  epoch: 3\n"),
            "x.yaml:4: train.epoch: unknown key (did you mean 'epochs'?)");
  EXPECT_EQ(parse_error("model:\n  latnet_dim: 3\n"),
            "x.yaml:2: model.latnet_dim: unknown key (did you mean 'latent_dim'?)");
  EXPECT_EQ(parse_error("nmae: a\n"), "x.yaml:1: nmae: unknown key (did you mean 'name'?)");
}

TEST(ConfigErrors, UnknownKeyWithoutNearMatchListsKnownKeys) {
  EXPECT_EQ(parse_error("output:\n  colour: red\n"),
            "x.yaml:2: output.colour: unknown key (known: run_dir, progress, image_every)");
}

TEST(ConfigErrors, UnknownSection) {
  EXPECT_EQ(parse_error("name: a\nmodle:\n  latent_dim: 3\n"),
            "x.yaml:2: modle: unknown section (did you mean 'model'?)");
  const std::string message = parse_error("optimizer:\n  lr: 3\n");
  EXPECT_EQ(message.rfind("x.yaml:1: optimizer: unknown section (known: name, device", 0), 0u) << message;
}

TEST(ConfigErrors, DuplicateKey) {
  EXPECT_EQ(parse_error("train:\n  lr: 0.1\n  lr: 0.2\n"),
            "x.yaml:3: train.lr: duplicate key (first given on line 2)");
}

TEST(ConfigErrors, WrongTypes) {
  EXPECT_EQ(parse_error("train:\n  epochs: ten\n"), "x.yaml:2: train.epochs: expected an integer, got 'ten'");
  EXPECT_EQ(parse_error("train:\n  epochs: 2.5\n"), "x.yaml:2: train.epochs: expected an integer, got '2.5'");
  // A quoted number is a string.
  EXPECT_EQ(parse_error("train:\n  epochs: \"3\"\n"), "x.yaml:2: train.epochs: expected an integer, got '3'");
  EXPECT_EQ(parse_error("\n\ntrain:\n  lr: {a: 1}\n"), "x.yaml:4: train.lr: expected a number, got a map");
  EXPECT_EQ(parse_error("train:\n  lr: .inf\n"), "x.yaml:2: train.lr: expected a number, got '.inf'");
  EXPECT_EQ(parse_error("model:\n  latent_dim: [1, 2]\n"),
            "x.yaml:2: model.latent_dim: expected an integer, got a list");
  EXPECT_EQ(parse_error("model:\n  latent_dim:\n"),
            "x.yaml:2: model.latent_dim: expected an integer, got nothing");
  EXPECT_EQ(parse_error("name: [a]\n"), "x.yaml:1: name: expected a non-empty string, got a list");
  EXPECT_EQ(parse_error("name:\n"),
            "x.yaml:1: name: expected a non-empty string, got nothing (write \"\" for an empty string)");
  EXPECT_EQ(parse_error("model: 3\n"), "x.yaml:1: model: expected a section (a map of keys), got '3'");
  EXPECT_EQ(parse_error("model:\n  encoder:\n    hidden: 400\n"),
            "x.yaml:3: model.encoder.hidden: expected a list of integers such as [200, 200], got '400'");
  EXPECT_EQ(parse_error("model:\n  encoder: [400]\n"),
            "x.yaml:2: model.encoder: expected a section (a map of keys), got a list");
}

// Found by tests/fuzz/config_fuzz.cpp: a Latin-1 byte in a string came back as U+FFFD from the
// resolved config.yaml, i.e. the run's saved config named another path than the one used.
TEST(ConfigErrors, StringsMustBeUtf8) {
  EXPECT_EQ(parse_error("name: caf\xe9\n"),
            "x.yaml:1: name: expected UTF-8 text, got the byte 0xE9 at offset 3 (is the file in another "
            "encoding?)");
  EXPECT_EQ(parse_error("data:\n  path: \"d/\xc3\"\n"),  // a cut-off two-byte sequence
            "x.yaml:2: data.path: expected UTF-8 text, got the byte 0xC3 at offset 2 (is the file in another "
            "encoding?)");
  EXPECT_EQ(override_error("data.path=\xed\xa0\x80"),  // a UTF-16 surrogate, not a character
            "--set data.path=\xed\xa0\x80: data.path: expected UTF-8 text, got the byte 0xED at offset 0 (is "
            "the file in another encoding?)");
  // Well-formed multi-byte text is fine and survives the round trip through to_yaml.
  const ExperimentConfig c = parse_config("name: caf\xc3\xa9-\xf0\x9f\x99\x82\n", "x.yaml");
  EXPECT_EQ(c.name, "caf\xc3\xa9-\xf0\x9f\x99\x82");
  EXPECT_EQ(parse_config(to_yaml(c), "resolved.yaml"), c);
}

TEST(ConfigErrors, BooleansAreTrueOrFalseOnly) {
  EXPECT_EQ(parse_error("data:\n  bernoulli_on_grey: yes\n"),
            "x.yaml:2: data.bernoulli_on_grey: expected true or false, got 'yes'");
  EXPECT_EQ(parse_error("data:\n  bernoulli_on_grey: 1\n"),
            "x.yaml:2: data.bernoulli_on_grey: expected true or false, got '1'");
  EXPECT_EQ(parse_error("data:\n  bernoulli_on_grey: \"true\"\n"),
            "x.yaml:2: data.bernoulli_on_grey: expected true or false, got 'true'");
}

TEST(ConfigErrors, OutOfRange) {
  EXPECT_EQ(parse_error("name: a\n\ntrain:\n  epochs: 3\n  batch_size: -3\n"),
            "x.yaml:5: train.batch_size: expected an integer >= 1, got -3");
  EXPECT_EQ(parse_error("train:\n  lr: 0\n"), "x.yaml:2: train.lr: expected a number > 0, got 0.0");
  EXPECT_EQ(parse_error("train:\n  beta1: 1\n"),
            "x.yaml:2: train.beta1: expected a number in (0, 1), got 1.0");
  EXPECT_EQ(parse_error("train:\n  beta2: 0\n"),
            "x.yaml:2: train.beta2: expected a number in (0, 1), got 0.0");
  EXPECT_EQ(parse_error("train:\n  eps: -1e-8\n"), "x.yaml:2: train.eps: expected a number > 0, got -1e-08");
  EXPECT_EQ(parse_error("train:\n  grad_clip: -0.5\n"),
            "x.yaml:2: train.grad_clip: expected a number >= 0, got -0.5");
  EXPECT_EQ(parse_error("train:\n  weight_decay: -0.1\n"),
            "x.yaml:2: train.weight_decay: expected a number >= 0, got -0.1");
  EXPECT_EQ(parse_error("train:\n  optimizer: sgd\n"),
            "x.yaml:2: train.optimizer: expected one of adam|adamw, got 'sgd'");
  EXPECT_EQ(parse_error("train:\n  gamma: 1.5\n"),
            "x.yaml:2: train.gamma: expected a number in (0, 1], got 1.5");
  EXPECT_EQ(parse_error("train:\n  gamma: 0\n"),
            "x.yaml:2: train.gamma: expected a number in (0, 1], got 0.0");
  EXPECT_EQ(parse_error("train:\n  lr_min: -1\n"),
            "x.yaml:2: train.lr_min: expected a number >= 0, got -1.0");
  EXPECT_EQ(parse_error("train:\n  eval_batch_size: 0\n"),
            "x.yaml:2: train.eval_batch_size: expected an integer >= 1, got 0");
  EXPECT_EQ(parse_error("model:\n  k: 0\n"), "x.yaml:2: model.k: expected an integer >= 1, got 0");
  EXPECT_EQ(parse_error("model:\n  latent_dim: 0\n"),
            "x.yaml:2: model.latent_dim: expected an integer >= 1, got 0");
  EXPECT_EQ(parse_error("data:\n  validation_size: -1\n"),
            "x.yaml:2: data.validation_size: expected an integer >= 0, got -1");
  EXPECT_EQ(parse_error("data:\n  train_limit: -1\n"),
            "x.yaml:2: data.train_limit: expected an integer >= 0, got -1");
  EXPECT_EQ(parse_error("data:\n  test_limit: -2\n"),
            "x.yaml:2: data.test_limit: expected an integer >= 0, got -2");
  EXPECT_EQ(parse_error("threads: -1\n"), "x.yaml:1: threads: expected an integer >= 0, got -1");
  EXPECT_EQ(parse_error("blas_threads: -4\n"), "x.yaml:1: blas_threads: expected an integer >= 0, got -4");
}

TEST(ConfigErrors, EverySizeKeyRefusesZeroAndNegativeValues) {
  // Sizes and counts that must be positive, then those where 0 means "off" or "all".
  const std::vector<std::pair<std::string, std::string>> positive = {
      {"model", "latent_dim"}, {"model", "k"},         {"data", "n_train"},         {"train", "epochs"},
      {"train", "batch_size"}, {"train", "step_size"}, {"train", "eval_batch_size"}};
  for (const auto& [section, key] : positive) {
    for (const char* value : {"0", "-3"}) {
      EXPECT_EQ(parse_error(section + ":\n  " + key + ": " + value + "\n"),
                "x.yaml:2: " + section + "." + key + ": expected an integer >= 1, got " + value);
    }
  }
  // The mixture's, in a gmm section.
  for (const char* key : {"components", "em_max_steps", "n_init"}) {
    EXPECT_EQ(parse_error(std::string("model:\n  type: gmm\n  ") + key + ": 0\n"),
              std::string("x.yaml:3: model.") + key + ": expected an integer >= 1, got 0");
  }
  const std::vector<std::pair<std::string, std::string>> non_negative = {
      {"data", "validation_size"}, {"data", "train_limit"},   {"data", "test_limit"}, {"data", "n_test"},
      {"data", "pca_dim"},         {"output", "image_every"}, {"", "threads"},        {"", "torch_threads"},
      {"", "blas_threads"}};
  for (const auto& [section, key] : non_negative) {
    const std::string path = section.empty() ? key : section + "." + key;
    const std::string yaml = section.empty() ? key + ": -1\n" : section + ":\n  " + key + ": -1\n";
    EXPECT_EQ(parse_error(yaml), "x.yaml:" + std::string(section.empty() ? "1" : "2") + ": " + path +
                                     ": expected an integer >= 0, got -1");
  }
  for (const char* part : {"encoder", "decoder"}) {
    EXPECT_EQ(parse_error(std::string("model:\n  ") + part + ":\n    hidden: [0]\n"),
              std::string("x.yaml:3: model.") + part + ".hidden[0]: expected an integer >= 1, got 0");
    EXPECT_EQ(parse_error(std::string("model:\n  ") + part + ":\n    hidden: [16, -8]\n"),
              std::string("x.yaml:3: model.") + part + ".hidden[1]: expected an integer >= 1, got -8");
  }
  // The same through --set, named by the override.
  EXPECT_EQ(parse_error("", {"model.k=0"}), "--set model.k=0: model.k: expected an integer >= 1, got 0");
  EXPECT_EQ(parse_error("", {"train.batch_size=-1"}),
            "--set train.batch_size=-1: train.batch_size: expected an integer >= 1, got -1");
}

TEST(ConfigErrors, UnknownModelLikelihoodAndDevice) {
  EXPECT_EQ(parse_error("model:\n  type: flow\n"),
            "x.yaml:2: model.type: expected one of " + registered_types() + ", got 'flow'");
  EXPECT_EQ(parse_error("model:\n  likelihood: poisson\n"),
            "x.yaml:2: model.likelihood: expected one of bernoulli|gaussian, got 'poisson'");
  EXPECT_EQ(parse_error("device: tpu\n"),
            "x.yaml:1: device: expected auto, cpu, cuda or cuda:N (N a device index), got 'tpu'");
  EXPECT_EQ(parse_error("model:\n  k: two\n"), "x.yaml:2: model.k: expected an integer, got 'two'");
}

TEST(ConfigErrors, HiddenLayerSizesPointAtTheElement) {
  EXPECT_EQ(parse_error("model:\n  encoder:\n    hidden: [400, 0]\n"),
            "x.yaml:3: model.encoder.hidden[1]: expected an integer >= 1, got 0");
  EXPECT_EQ(parse_error("model:\n  decoder:\n    hidden:\n      - 300\n      - 2.5\n"),
            "x.yaml:5: model.decoder.hidden[1]: expected an integer, got '2.5'");
}

TEST(ConfigErrors, NotAChoice) {
  EXPECT_EQ(parse_error("model:\n  encoder:\n    activation: sigmoid\n"),
            "x.yaml:3: model.encoder.activation: expected one of tanh|relu|elu|softplus, got 'sigmoid'");
  EXPECT_EQ(parse_error("model:\n  objective: vimco\n"),
            "x.yaml:2: model.objective: expected one of elbo|iwae, got 'vimco'");
  EXPECT_EQ(parse_error("train:\n  schedule: linear\n"),
            "x.yaml:2: train.schedule: expected one of none|step|exponential|cosine, got 'linear'");
  EXPECT_EQ(
      parse_error("data:\n  dataset: cifar10\n"),
      "x.yaml:2: data.dataset: expected one of mnist|fashion_mnist|npy|images|synthetic|csv, got 'cifar10'");
  EXPECT_EQ(parse_error("data:\n  binarize: yes\n"),
            "x.yaml:2: data.binarize: expected one of none|dynamic|static, got 'yes'");
  EXPECT_EQ(parse_error("output:\n  progress: fancy\n"),
            "x.yaml:2: output.progress: expected one of auto|bar|lines|none, got 'fancy'");
}

TEST(ConfigErrors, Device) {
  for (const char* good : {"auto", "cpu", "cuda", "cuda:0", "cuda:12"}) {
    EXPECT_EQ(parse_config(std::string("device: ") + good + "\n", "x.yaml").device, good);
  }
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", "cuda:1a"}) {
    EXPECT_EQ(parse_error(std::string("name: a\ndevice: \"") + bad + "\"\n"),
              std::string("x.yaml:2: device: expected auto, cpu, cuda or cuda:N (N a device index), got '") +
                  bad + "'");
  }
}

TEST(ConfigErrors, YamlSyntaxError) {
  EXPECT_EQ(parse_error("name: a\nmodel:\n  encoder_hidden: [200, 200\n  k: 2\n"),
            "x.yaml:4: YAML syntax error: end of sequence flow not found");
  const std::string message = parse_error("name: a\ntrain:\n  lr: 1\n    epochs: 2\n");
  EXPECT_EQ(message.rfind("x.yaml:4: YAML syntax error: ", 0), 0u) << message;
}

TEST(ConfigErrors, TopLevelMustBeAMap) {
  EXPECT_EQ(parse_error("- a\n- b\n"),
            "x.yaml:1: expected a map of keys and sections at the top level, got a list");
}

TEST(ConfigErrors, MissingFile) {
  try {
    load_config("/nonexistent/dir/nope.yaml");
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "/nonexistent/dir/nope.yaml: cannot open config file: No such file or directory");
  }
}

TEST(ConfigErrors, FileErrorsNameThePath) {
  lvm::testing::TempDir dir;
  const std::string path = dir.file("bad.yaml");
  lvm::testing::write_file(path, "name: a\ntrain:\n  batch_size: -3\n");
  try {
    load_config(path);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":3: train.batch_size: expected an integer >= 1, got -3");
  }
}

// --- Cross-field rules. ---

TEST(ConfigRules, BernoulliOnGreyNeedsOptIn) {
  const std::string message = parse_error("name: a\ndata:\n  binarize: none\n");
  EXPECT_EQ(message.rfind("x.yaml:3: data.binarize: none with model.likelihood: bernoulli: ", 0), 0u)
      << message;
  EXPECT_NE(message.find("cross-entropy, not a likelihood"), std::string::npos) << message;
  EXPECT_NE(message.find("data.bernoulli_on_grey: true"), std::string::npos) << message;

  const ExperimentConfig allowed =
      parse_config("data:\n  binarize: none\n  bernoulli_on_grey: true\n", "x.yaml");
  EXPECT_EQ(allowed.data.binarize, "none");
  // A Gaussian likelihood on grey levels needs no opt-in, nor Bernoulli on binarised data.
  EXPECT_NO_THROW(parse_config("model:\n  likelihood: gaussian\ndata:\n  binarize: none\n", "x.yaml"));
  EXPECT_NO_THROW(parse_config("data:\n  binarize: static\n", "x.yaml"));
}

TEST(ConfigRules, DregNeedsIwae) {
  const std::string message = parse_error("model:\n  k: 5\n  iwae_gradient: dreg\n");
  EXPECT_EQ(message.rfind("x.yaml:3: model.iwae_gradient: dreg ", 0), 0u) << message;
  EXPECT_NE(message.find("needs model.objective: iwae, got 'elbo'"), std::string::npos) << message;
  EXPECT_NO_THROW(parse_config("model:\n  objective: iwae\n  k: 5\n  iwae_gradient: dreg\n", "x.yaml"));
}

TEST(ConfigRules, GaussianMixtureRules) {
  const std::string gmm = "model:\n  type: gmm\n  objective: exact\n";
  EXPECT_NO_THROW(parse_config(gmm + "data:\n  dataset: synthetic\n", "x.yaml"));
  EXPECT_NO_THROW(parse_config(gmm + "data:\n  binarize: none\n  pca_dim: 20\n", "x.yaml"));

  // The mixture's log p(x) is exact: objective may be left out, and nothing else is accepted.
  EXPECT_NO_THROW(parse_config("model:\n  type: gmm\ndata:\n  dataset: synthetic\n", "x.yaml"));
  std::string message = parse_error("model:\n  type: gmm\n  objective: elbo\ndata:\n  dataset: synthetic\n");
  EXPECT_EQ(message, "x.yaml:3: model.objective: expected one of exact, got 'elbo'") << message;

  message = parse_error("model:\n  objective: exact\n");
  EXPECT_EQ(message, "x.yaml:2: model.objective: expected one of elbo|iwae, got 'exact'") << message;

  message = parse_error("data:\n  dataset: csv\n  path: points.csv\n");
  EXPECT_EQ(message.rfind("x.yaml:2: data.dataset: csv data are vectors, for a model of vectors such as "
                          "model.type: gmm; a vae trains on images",
                          0),
            0u)
      << message;

  message = parse_error("data:\n  pca_dim: 10\n");
  EXPECT_EQ(message,
            "x.yaml:2: data.pca_dim: PCA projection is for vector data (a model such as gmm), not for a vae")
      << message;

  message = parse_error(gmm + "data:\n  dataset: mnist\n");  // binarize defaults to dynamic
  EXPECT_EQ(message.rfind("x.yaml: data.binarize: dynamic binarisation redraws the data", 0), 0u) << message;

  EXPECT_NE(
      parse_error(gmm + "  covariance: tied\n").find("model.covariance: expected one of full|diag|spherical"),
      std::string::npos);
  EXPECT_EQ(parse_error(gmm + "  reg_covar: 0\n"),
            "x.yaml:4: model.reg_covar: expected a number > 0, got 0.0");
  EXPECT_EQ(parse_error(gmm + "  components: 0\n"),
            "x.yaml:4: model.components: expected an integer >= 1, got 0");
  EXPECT_NE(parse_error(gmm + "data:\n  dataset: csv\n  test_fraction: 1\n").find("data.test_fraction"),
            std::string::npos);
  EXPECT_EQ(parse_config(gmm + "  n_init: 4\ndata:\n  dataset: synthetic\n", "x.yaml")
                .model.get<GmmConfig>()
                .n_init,
            4);
  EXPECT_EQ(
      parse_error(gmm + "  n_init: 4\n  fit: gradient\ndata:\n  dataset: synthetic\n"),
      "x.yaml:4: model.n_init: several initialisations (n_init 4) are for model.fit: em; a gradient fit "
      "starts once");
}

TEST(ConfigRules, ModelSectionsHoldTheirOwnModelsKeysOnly) {
  EXPECT_EQ(parse_error("model:\n  type: vae\n  components: 4\n"),
            "x.yaml:3: model.components: unknown key for model.type vae: it is a key of gmm (a model section "
            "holds the keys of its own model only: set model.type: gmm or remove the key)");
  EXPECT_EQ(parse_error("model:\n  type: gmm\n  encoder:\n    hidden: [10]\n"),
            "x.yaml:3: model.encoder: unknown key for model.type gmm: it is a key of vae and vae2 (a model "
            "section holds the keys of its own model only: set model.type: vae or remove the key)");
  // The flat keys of lvm 0.1 too.
  EXPECT_EQ(parse_error("model:\n  type: gmm\n  encoder_hidden: [10]\n"),
            "x.yaml:3: model.encoder_hidden: unknown key for model.type gmm: it is a key of vae (a model "
            "section holds the keys of its own model only: set model.type: vae or remove the key)");
  // latent_dim belongs to two models.
  EXPECT_NE(parse_error("model:\n  type: gmm\n  latent_dim: 3\n").find("it is a key of linear_gaussian and "),
            std::string::npos);
  // The same through --set, and a --set of the type starts from that model's defaults.
  EXPECT_EQ(
      parse_error("", {"model.components=3"}),
      "--set model.components=3: model.components: unknown key for model.type vae: it is a key of gmm (a "
      "model section holds the keys of its own model only: set model.type: gmm or remove the key)");
  const ExperimentConfig config = parse_config("model:\n  latent_dim: 7\ndata:\n  dataset: synthetic\n",
                                               "x.yaml", {"model.type=gmm", "model.components=3"});
  EXPECT_EQ(config.model.type(), "gmm");
  EXPECT_EQ(config.model.get<GmmConfig>().components, 3);
  // The resolved config holds the chosen model's keys only.
  const std::string yaml = to_yaml(config);
  EXPECT_NE(yaml.find("components: 3"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("latent_dim"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("encoder"), std::string::npos) << yaml;
}

TEST(ConfigRules, TheFlatModelSectionOfOlderRunsStillReads) {
  // lvm 0.1 wrote every model's keys into each run's config.yaml and checkpoint.
  const std::string flat =
      "type: vae\nlatent_dim: 7\nencoder_hidden: [30]\ndecoder_hidden: [20]\nactivation: relu\n"
      "likelihood: bernoulli\nobjective: iwae\nk: 5\nkl: analytic\niwae_gradient: standard\ncomponents: 8\n"
      "covariance: full\nreg_covar: 1.0e-06\nfit: em\nem_max_steps: 100\nem_tol: 0.001\ninit: kmeans++\n"
      "n_init: 1\n";
  std::string indented;
  std::istringstream lines(flat);
  for (std::string line; std::getline(lines, line);) indented += "  " + line + "\n";
  const ExperimentConfig vae = parse_config("model:\n" + indented, "old/config.yaml");
  EXPECT_EQ(vae.model.get<VaeConfig>().latent_dim, 7);
  EXPECT_EQ(vae.model.get<VaeConfig>().k, 5);
  EXPECT_EQ(vae.model.get<VaeConfig>().encoder.hidden, (std::vector<int64_t>{30}));
  EXPECT_EQ(vae.model.get<VaeConfig>().decoder.hidden, (std::vector<int64_t>{20}));
  EXPECT_EQ(vae.model.get<VaeConfig>().encoder.activation, "relu");
  EXPECT_EQ(vae.model.get<VaeConfig>().decoder.activation, "relu");
  std::string gmm_text = "model:\n" + indented;
  gmm_text.replace(gmm_text.find("type: vae"), 9, "type: gmm");
  gmm_text.replace(gmm_text.find("objective: iwae"), 15, "objective: exact");
  gmm_text.replace(gmm_text.find("components: 8"), 13, "components: 3");
  const ExperimentConfig gmm = parse_config(gmm_text + "data:\n  dataset: synthetic\n", "old/config.yaml");
  EXPECT_EQ(gmm.model.get<GmmConfig>().components, 3);
  // One key short of the flat format is a hand-written section: the other model's keys are refused.
  std::string partial = "model:\n" + indented;
  partial.erase(partial.find("  n_init: 1\n"));
  EXPECT_NE(parse_error(partial).find("model.components: unknown key for model.type vae"), std::string::npos);
}

// --- Parts: model.encoder and model.decoder (lvm/nn/part_config.h). ---

// `type`'s rule as it lists the part types.
std::string part_types() {
  std::string out;
  for (const auto& type : lvm::nn::part_type_names()) out += (out.empty() ? "" : "|") + type;
  return out;
}

TEST(ConfigParts, SectionsTakeTheirDefaultsAndValues) {
  const VaeConfig defaults = parse_config("", "x.yaml").model.get<VaeConfig>();
  for (const lvm::nn::PartConfig* part : {&defaults.encoder, &defaults.decoder}) {
    EXPECT_EQ(part->type, "mlp");
    EXPECT_EQ(part->hidden, (std::vector<int64_t>{200, 200}));
    EXPECT_EQ(part->activation, "tanh");
  }
  const ExperimentConfig c = parse_config(
      "model:\n"
      "  encoder:\n"
      "    type: mlp\n"
      "    hidden: [300, 100]\n"
      "    activation: elu\n"
      "  decoder: {hidden: [], activation: elu}\n",
      "x.yaml");
  const VaeConfig& vae = c.model.get<VaeConfig>();
  EXPECT_EQ(vae.encoder.type, "mlp");
  EXPECT_EQ(vae.encoder.hidden, (std::vector<int64_t>{300, 100}));
  EXPECT_EQ(vae.encoder.activation, "elu");
  EXPECT_EQ(vae.decoder.type, "mlp");
  EXPECT_TRUE(vae.decoder.hidden.empty());
  EXPECT_EQ(vae.decoder.activation, "elu");
  // An empty section, or one with every key commented out, is all defaults.
  EXPECT_EQ(parse_config("model:\n  encoder: {}\n  decoder:\n", "x.yaml"), ExperimentConfig{});
}

TEST(ConfigParts, TheFlatKeysReadAsTheSections) {
  const ExperimentConfig flat = parse_config(
      "model:\n  latent_dim: 7\n  encoder_hidden: [30]\n  decoder_hidden: [20, 10]\n  activation: relu\n",
      "old/config.yaml");
  const ExperimentConfig sections = parse_config(
      "model:\n"
      "  latent_dim: 7\n"
      "  encoder: {type: mlp, hidden: [30], activation: relu}\n"
      "  decoder: {type: mlp, hidden: [20, 10], activation: relu}\n",
      "new/config.yaml");
  EXPECT_EQ(flat, sections);
  EXPECT_EQ(flat.model.get<VaeConfig>().decoder.hidden, (std::vector<int64_t>{20, 10}));
  // One flat key with the other part's section.
  EXPECT_EQ(parse_config("model:\n  encoder_hidden: [5]\n  decoder: {hidden: [6]}\n", "x.yaml")
                .model.get<VaeConfig>()
                .encoder.hidden,
            (std::vector<int64_t>{5}));
  // Errors in a flat key's value name the key as written.
  EXPECT_EQ(parse_error("model:\n  encoder_hidden: [16, -8]\n"),
            "x.yaml:2: model.encoder_hidden[1]: expected an integer >= 1, got -8");
  EXPECT_EQ(parse_error("model:\n  activation: sigmoid\n"),
            "x.yaml:2: model.activation: expected one of tanh|relu|elu|softplus, got 'sigmoid'");
  // --set takes them too: activation sets both parts.
  const ExperimentConfig set = parse_config(
      "", "x.yaml",
      {"model.encoder_hidden=[400]", "model.activation=softplus", "model={decoder_hidden: [9]}"});
  EXPECT_EQ(set.model.get<VaeConfig>().encoder.hidden, (std::vector<int64_t>{400}));
  EXPECT_EQ(set.model.get<VaeConfig>().decoder.hidden, (std::vector<int64_t>{9}));
  EXPECT_EQ(set.model.get<VaeConfig>().encoder.activation, "softplus");
  EXPECT_EQ(set.model.get<VaeConfig>().decoder.activation, "softplus");
  EXPECT_EQ(override_error("model.encoder_hidden.x=[4]"),
            "--set model.encoder_hidden.x=[4]: model.encoder_hidden: is a key, not a section");
}

TEST(ConfigParts, ResolvedYamlHoldsTheSectionsOnly) {
  const ExperimentConfig flat = parse_config(
      "model:\n  encoder_hidden: [30]\n  decoder_hidden: []\n  activation: relu\n", "old/config.yaml");
  const std::string yaml = to_yaml(flat);
  EXPECT_NE(yaml.find("  encoder:\n    type: mlp\n    hidden: [30]\n    activation: relu\n"
                      "  decoder:\n    type: mlp\n    hidden: []\n    activation: relu\n"),
            std::string::npos)
      << yaml;
  for (const char* old_key : {"encoder_hidden", "decoder_hidden", "\n  activation:"}) {
    EXPECT_EQ(yaml.find(old_key), std::string::npos) << old_key << " in:\n" << yaml;
  }
  EXPECT_EQ(parse_config(yaml, "resolved.yaml"), flat);
  // The architecture keys a checkpoint is compared by name the parts' keys.
  const auto values = lvm::config::model_key_values(flat.model);
  EXPECT_NE(
      std::find(values.begin(), values.end(), std::pair<std::string, std::string>{"encoder.hidden", "[30]"}),
      values.end());
  for (const auto& entry : values) EXPECT_NE(entry.first, "encoder_hidden");
}

TEST(ConfigParts, BothFormsOfOneKeyIsAnError) {
  EXPECT_EQ(parse_error("model:\n  encoder_hidden: [30]\n  encoder:\n    hidden: [40]\n"),
            "x.yaml:2: model.encoder_hidden: is the old form of model.encoder.hidden, which is given too "
            "(line 4): keep model.encoder.hidden only");
  EXPECT_EQ(parse_error("model:\n  decoder: {activation: relu}\n  activation: relu\n"),
            "x.yaml:3: model.activation: is the old form of model.decoder.activation, which is given too "
            "(line 2): keep model.decoder.activation only");
  EXPECT_EQ(parse_error("", {"model={encoder_hidden: [3], encoder: {hidden: [4]}}"}),
            "--set model={encoder_hidden: [3], encoder: {hidden: [4]}}: model.encoder_hidden: is the old "
            "form of model.encoder.hidden, which is given too: keep model.encoder.hidden only");
  // The flat key and another key of the section are no clash.
  const ExperimentConfig c =
      parse_config("model:\n  encoder_hidden: [30]\n  encoder:\n    type: mlp\n", "x.yaml");
  EXPECT_EQ(c.model.get<VaeConfig>().encoder.hidden, (std::vector<int64_t>{30}));
}

TEST(ConfigParts, UnknownKeysAndTypes) {
  EXPECT_EQ(parse_error("model:\n  encoder:\n    hidden: [3]\n    depth: 2\n"),
            "x.yaml:4: model.encoder.depth: unknown key (known: type, hidden, activation)");
  EXPECT_EQ(parse_error("model:\n  decoder:\n    hiden: [3]\n"),
            "x.yaml:3: model.decoder.hiden: unknown key (did you mean 'hidden'?)");
  EXPECT_EQ(
      override_error("model.encoder.depth=2"),
      "--set model.encoder.depth=2: model.encoder.depth: unknown key (known: type, hidden, activation)");
  // A wrong type names the known ones, and is reported before the keys it would have had.
  EXPECT_EQ(parse_error("model:\n  encoder:\n    type: conv\n"),
            "x.yaml:3: model.encoder.type: expected one of " + part_types() + ", got 'conv'");
  EXPECT_EQ(parse_error("model:\n  decoder:\n    channels: [3]\n    type: conv\n"),
            "x.yaml:4: model.decoder.type: expected one of " + part_types() + ", got 'conv'");
  EXPECT_EQ(
      override_error("model.decoder.type=conv"),
      "--set model.decoder.type=conv: model.decoder.type: expected one of " + part_types() + ", got 'conv'");
}

TEST(ConfigParts, SetANestedKey) {
  const ExperimentConfig c = parse_config("", "x.yaml", {"model.encoder.hidden=[400]"});
  EXPECT_EQ(c.model.get<VaeConfig>().encoder.hidden, (std::vector<int64_t>{400}));
  EXPECT_EQ(c.model.get<VaeConfig>().decoder.hidden, (std::vector<int64_t>{200, 200}));
  ExperimentConfig config;
  apply_override(config, "model.decoder.hidden=[]");
  EXPECT_TRUE(config.model.get<VaeConfig>().decoder.hidden.empty());
  EXPECT_EQ(
      override_error("model.encoder=3"),
      "--set model.encoder=3: model.encoder: is a section: set one of its keys (model.encoder.KEY=VALUE) "
      "or give a map such as {KEY: VALUE}");
}

TEST(ConfigParts, TheVaeTakesOneActivationForBothParts) {
  EXPECT_EQ(
      parse_error("model:\n  encoder:\n    activation: relu\n  decoder:\n    activation: elu\n"),
      "x.yaml:5: model.decoder.activation: elu differs from model.encoder.activation relu: the vae builds "
      "both parts with one activation (VaeOptions); set both to the same");
  EXPECT_NE(parse_error("", {"model.encoder.activation=relu"})
                .find("tanh differs from model.encoder.activation relu"),
            std::string::npos);
}

TEST(ConfigParts, TheFootprintNamesThePartsKeys) {
  ExperimentConfig c;
  c.model.get<VaeConfig>().encoder.hidden = {300};
  c.model.get<VaeConfig>().decoder.hidden = {};
  // A named type, not a temporary string: GCC 14 takes a reference returned for a temporary
  // argument for a dangling one (-Wdangling-reference).
  const std::string type = "vae";
  const auto& spec = lvm::model_spec(type);
  ASSERT_TRUE(spec.footprint);
  const lvm::MemoryFootprint size = spec.footprint(c.model.options(), {1, 28, 28});
  EXPECT_EQ(size.size_keys, "model.encoder.hidden [300], model.decoder.hidden [], model.latent_dim 50");
  // 784 -> 300 -> 2 x 50, and 50 -> 784.
  EXPECT_EQ(size.parameters, 785.0 * 300 + 301.0 * 100 + 51.0 * 784);
}

TEST(ConfigRules, CosineFloorBelowLr) {
  EXPECT_EQ(
      parse_error("train:\n  lr: 1e-4\n  schedule: cosine\n  lr_min: 1e-3\n"),
      "x.yaml:4: train.lr_min: the cosine schedule decays from train.lr to train.lr_min, but lr_min 0.001 > "
      "lr 0.0001");
}

TEST(ConfigRules, ValidateChecksConfigsBuiltInCode) {
  ExperimentConfig config;
  EXPECT_NO_THROW(validate(config));
  config.train.batch_size = 0;
  try {
    validate(config, "built-in");
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "built-in: train.batch_size: expected an integer >= 1, got 0");
  }
  config = ExperimentConfig{};
  config.model.get<VaeConfig>().encoder.hidden = {10, -1};
  try {
    validate(config);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "config: model.encoder.hidden[1]: expected an integer >= 1, got -1");
  }
}

// --- Overrides. ---

TEST(ConfigOverrides, NestedScalarAndListValues) {
  const ExperimentConfig config = parse_config("name: a\ntrain:\n  lr: 0.1\n", "x.yaml",
                                               {"train.lr=3e-4", "model.encoder.hidden=[400, 300]", "name=b",
                                                "model.decoder.hidden=[]", "data.bernoulli_on_grey=true"});
  EXPECT_EQ(config.train.lr, 3e-4);
  EXPECT_EQ(config.model.get<VaeConfig>().encoder.hidden, (std::vector<int64_t>{400, 300}));
  EXPECT_TRUE(config.model.get<VaeConfig>().decoder.hidden.empty());
  EXPECT_EQ(config.name, "b");
  EXPECT_TRUE(config.data.bernoulli_on_grey);
}

TEST(ConfigOverrides, AppliedInOrderAndValidatedTogether) {
  // binarize=none alone would break the Bernoulli rule; the next override makes it valid.
  const ExperimentConfig config =
      parse_config("", "x.yaml",
                   {"train.epochs=3", "train.epochs=7", "data.binarize=none", "data.bernoulli_on_grey=true"});
  EXPECT_EQ(config.train.epochs, 7);
  EXPECT_EQ(config.data.binarize, "none");
}

TEST(ConfigOverrides, WholeSectionAsAMap) {
  const ExperimentConfig config = parse_config("", "x.yaml",
                                               {"model={latent_dim: 20, encoder: {activation: relu}}",
                                                "model.decoder={activation: relu, hidden: [3]}"});
  EXPECT_EQ(config.model.get<VaeConfig>().latent_dim, 20);
  EXPECT_EQ(config.model.get<VaeConfig>().encoder.activation, "relu");
  EXPECT_EQ(config.model.get<VaeConfig>().encoder.hidden, (std::vector<int64_t>{200, 200}));
  EXPECT_EQ(config.model.get<VaeConfig>().decoder.activation, "relu");
  EXPECT_EQ(config.model.get<VaeConfig>().decoder.hidden, (std::vector<int64_t>{3}));
  EXPECT_EQ(config.model.get<VaeConfig>().k, 1);
}

TEST(ConfigOverrides, BadValues) {
  EXPECT_EQ(override_error("train.lr=abc"), "--set train.lr=abc: train.lr: expected a number, got 'abc'");
  EXPECT_EQ(override_error("train.batch_size=-3"),
            "--set train.batch_size=-3: train.batch_size: expected an integer >= 1, got -3");
  EXPECT_EQ(override_error("model.encoder.hidden=[400, x]"),
            "--set model.encoder.hidden=[400, x]: model.encoder.hidden[1]: expected an integer, got 'x'");
  EXPECT_EQ(
      override_error("model.encoder.hidden=[400"),
      "--set model.encoder.hidden=[400: model.encoder.hidden: the value is not valid YAML: end of sequence "
      "flow not found");
  EXPECT_EQ(override_error("model.decoder.activation=sigmoid"),
            "--set model.decoder.activation=sigmoid: model.decoder.activation: expected one of "
            "tanh|relu|elu|softplus, got 'sigmoid'");
  // Cross-field rules after a single override name the override.
  const std::string message = override_error("model.iwae_gradient=dreg");
  EXPECT_EQ(message.rfind("--set model.iwae_gradient=dreg: model.iwae_gradient: dreg ", 0), 0u) << message;
}

TEST(ConfigOverrides, UnknownKeysAndMalformed) {
  EXPECT_EQ(override_error("train.epoch=3"),
            "--set train.epoch=3: train.epoch: unknown key (did you mean 'epochs'?)");
  EXPECT_EQ(override_error("modle.k=3"), "--set modle.k=3: modle: unknown section (did you mean 'model'?)");
  EXPECT_EQ(override_error("train.lr.x=3"), "--set train.lr.x=3: train.lr: is a key, not a section");
  EXPECT_EQ(override_error("train=3"),
            "--set train=3: train: is a section: set one of its keys (train.KEY=VALUE) or give a map such as "
            "{KEY: VALUE}");
  EXPECT_EQ(override_error("train.lr"), "--set train.lr: expected KEY.PATH=VALUE, e.g. --set train.lr=3e-4");
  EXPECT_EQ(override_error("train..lr=1"), "--set train..lr=1: malformed key path 'train..lr'");
  EXPECT_EQ(override_error("=1"), "--set =1: malformed key path ''");
}

TEST(ConfigOverrides, FailedOverrideLeavesConfigUnchanged) {
  ExperimentConfig config;
  EXPECT_THROW(apply_override(config, "model.iwae_gradient=dreg"), ConfigError);
  EXPECT_EQ(config, ExperimentConfig{});
  apply_override(config, "model.k=4");
  EXPECT_EQ(config.model.get<VaeConfig>().k, 4);
}

TEST(ConfigOverrides, ErrorsInLoadConfigNameTheOverride) {
  lvm::testing::TempDir dir;
  const std::string path = dir.file("ok.yaml");
  lvm::testing::write_file(path, "name: a\n");
  try {
    load_config(path, {"train.epochs=1", "train.lr=abc"});
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "--set train.lr=abc: train.lr: expected a number, got 'abc'");
  }
}

// --- YAML output. ---

TEST(ConfigYaml, RoundTripsANonDefaultConfig) {
  ExperimentConfig config;
  config.name = "weird name: #1";
  config.device = "cuda:1";
  config.threads = 3;
  config.blas_threads = 2;
  config.model.get<VaeConfig>().latent_dim = 7;
  config.model.get<VaeConfig>().encoder.hidden = {512, 256, 1};
  config.model.get<VaeConfig>().decoder.hidden = {};
  config.model.get<VaeConfig>().encoder.activation = "softplus";
  config.model.get<VaeConfig>().decoder.activation = "softplus";
  config.model.get<VaeConfig>().likelihood = "gaussian";
  config.model.get<VaeConfig>().objective = "iwae";
  config.model.get<VaeConfig>().k = 50;
  config.model.get<VaeConfig>().kl = "mc";
  config.model.get<VaeConfig>().iwae_gradient = "dreg";
  config.data.dataset = "fashion_mnist";
  config.data.path = "/data/with space/\"quoted\"";
  config.data.binarize = "none";
  config.data.validation_size = 0;
  config.data.train_limit = 123;
  config.data.test_limit = 45;
  config.data.bernoulli_on_grey = true;
  config.train.epochs = 3;
  config.train.batch_size = 17;
  config.train.lr = 0.1 + 0.2;  // not the shortest decimal of 0.3: needs all digits
  config.train.beta1 = 0.85;
  config.train.beta2 = 1.0 - 1e-12;
  config.train.eps = 1.2345678901234567e-9;
  config.train.schedule = "step";
  config.train.step_size = 4;
  config.train.gamma = 1.0;
  config.train.lr_min = 1e-300;
  config.train.grad_clip = 5.0;
  config.train.seed = 9007199254740993;  // above 2^53: must not pass through a double
  config.train.eval_batch_size = 2;
  config.output.run_dir = "";
  config.output.progress = "none";
  ASSERT_NO_THROW(validate(config));

  const std::string yaml = to_yaml(config);
  const ExperimentConfig back = parse_config(yaml, "x");
  EXPECT_EQ(back, config) << yaml;
  EXPECT_EQ(to_yaml(back), yaml);
  EXPECT_EQ(back.train.lr, 0.1 + 0.2);
  EXPECT_EQ(back.train.seed, 9007199254740993);
  EXPECT_EQ(back.name, "weird name: #1");
  EXPECT_EQ(back.data.path, "/data/with space/\"quoted\"");
  EXPECT_TRUE(back.model.get<VaeConfig>().decoder.hidden.empty());
}

TEST(ConfigYaml, RoundTripsAGaussianMixtureConfig) {
  ExperimentConfig config;
  config.model.set_type("gmm");
  config.model.get<GmmConfig>().objective = "exact";
  config.model.get<GmmConfig>().components = 16;
  config.model.get<GmmConfig>().covariance = "spherical";
  config.model.get<GmmConfig>().reg_covar = 1e-3;
  config.model.get<GmmConfig>().fit = "gradient";
  config.model.get<GmmConfig>().em_max_steps = 7;
  config.model.get<GmmConfig>().em_tol = 0;
  config.model.get<GmmConfig>().init = "random";
  config.data.dataset = "csv";
  config.data.path = "my points.csv";
  config.data.test_path = "held out.csv";
  config.data.test_fraction = 0.5;
  config.data.synthetic = "pinwheel";
  config.data.n_train = 3;
  config.data.n_test = 0;
  config.data.noise = 0.25;
  config.data.pca_dim = 2;
  ASSERT_NO_THROW(validate(config));
  const std::string yaml = to_yaml(config);
  EXPECT_EQ(parse_config(yaml, "x"), config) << yaml;
  config.model.get<GmmConfig>().init =
      "kmeans++";  // '+' is not plain-scalar safe everywhere: quoted, and read back
  EXPECT_EQ(parse_config(to_yaml(config), "x").model.get<GmmConfig>().init, "kmeans++");
}

TEST(ConfigYaml, EmitsEveryKey) {
  const std::string yaml = to_yaml(ExperimentConfig{});
  for (const char* key :
       {"name:", "device:", "threads:", "blas_threads:", "model:", "latent_dim: 50",
        "  encoder:\n    type: mlp\n    hidden: [200, 200]\n    activation: tanh\n  decoder:\n",
        "iwae_gradient: standard", "data:", "bernoulli_on_grey: false", "train:", "lr: 0.001", "eps: 1e-08",
        "gamma: 0.5", "lr_min: 0.0", "eval_batch_size: 1000", "output:", "run_dir: \"\"", "progress: auto"}) {
    EXPECT_NE(yaml.find(key), std::string::npos) << key << " missing from:\n" << yaml;
  }
  EXPECT_EQ(parse_config(yaml, "x"), ExperimentConfig{});
}

TEST(ConfigYaml, EqualityNoticesEveryKind) {
  ExperimentConfig a;
  ExperimentConfig b;
  EXPECT_EQ(a, b);
  b.output.progress = "bar";
  EXPECT_NE(a, b);
  b = a;
  b.model.get<VaeConfig>().encoder.hidden.push_back(1);
  EXPECT_NE(a, b);
  b = a;
  b.model.get<VaeConfig>().decoder.type = "conv";  // a part's type, though no such part exists
  EXPECT_NE(a, b);
  b = a;
  b.train.lr = std::nextafter(a.train.lr, 1.0);
  EXPECT_NE(a, b);
}

// --- The experiment configs shipped in configs/. ---

TEST(ConfigFiles, VaeMnist) {
  const ExperimentConfig c = load_config(std::string(LVM_SOURCE_DIR) + "/configs/vae_mnist.yaml");
  EXPECT_EQ(c.name, "vae_mnist");
  EXPECT_EQ(c.resolved_run_dir(), "runs/vae_mnist");
  EXPECT_EQ(c.data.dataset, "mnist");
  EXPECT_EQ(c.data.path, "data/mnist");
  EXPECT_EQ(c.data.binarize, "dynamic");
  EXPECT_EQ(c.data.validation_size, 10000);
  EXPECT_EQ(c.model.get<VaeConfig>().likelihood, "bernoulli");
  EXPECT_EQ(c.model.get<VaeConfig>().encoder.activation, "tanh");
  EXPECT_EQ(c.model.get<VaeConfig>().latent_dim, 50);
  EXPECT_EQ(c.model.get<VaeConfig>().encoder.hidden, (std::vector<int64_t>{200, 200}));
  EXPECT_EQ(c.model.get<VaeConfig>().decoder.hidden, (std::vector<int64_t>{200, 200}));
  EXPECT_EQ(c.train.batch_size, 100);
  EXPECT_EQ(c.train.lr, 1e-3);
  EXPECT_EQ(c.train.eps, 1e-4);
  EXPECT_EQ(c.train.epochs, 50);
  EXPECT_EQ(c.train.schedule, "cosine");
  EXPECT_EQ(c.train.lr_min, 1e-4);
}

TEST(ConfigFiles, VaeMnistClassic) {
  const ExperimentConfig c = load_config(std::string(LVM_SOURCE_DIR) + "/configs/vae_mnist_classic.yaml");
  EXPECT_EQ(c.name, "vae_mnist_classic");
  EXPECT_EQ(c.model.get<VaeConfig>().latent_dim, 20);
  EXPECT_EQ(c.model.get<VaeConfig>().encoder.hidden, (std::vector<int64_t>{400}));
  EXPECT_EQ(c.model.get<VaeConfig>().decoder.hidden, (std::vector<int64_t>{400}));
  EXPECT_EQ(c.model.get<VaeConfig>().encoder.activation, "relu");
  EXPECT_EQ(c.data.binarize, "none");
  EXPECT_TRUE(c.data.bernoulli_on_grey);
  EXPECT_EQ(c.data.validation_size, 0);
  EXPECT_EQ(c.train.batch_size, 128);
  EXPECT_EQ(c.train.lr, 1e-3);
  EXPECT_EQ(c.train.epochs, 10);
  EXPECT_EQ(c.train.schedule, "none");
}

TEST(ConfigFiles, VaeFashion) {
  const ExperimentConfig c = load_config(std::string(LVM_SOURCE_DIR) + "/configs/vae_fashion.yaml");
  EXPECT_EQ(c.name, "vae_fashion");
  EXPECT_EQ(c.data.dataset, "fashion_mnist");
  EXPECT_EQ(c.data.path, "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(c.data.binarize, "dynamic");
  EXPECT_EQ(c.model.get<VaeConfig>().latent_dim, 50);
  EXPECT_EQ(c.model.get<VaeConfig>().encoder.hidden, (std::vector<int64_t>{200, 200}));
  EXPECT_EQ(c.model.get<VaeConfig>().decoder.hidden, (std::vector<int64_t>{200, 200}));
  EXPECT_EQ(c.model.get<VaeConfig>().encoder.activation, "tanh");
  EXPECT_EQ(c.train.epochs, 50);
}

TEST(ConfigFiles, IwaeMnistIsVaeMnistTrainedOnL5) {
  const ExperimentConfig iwae = load_config(std::string(LVM_SOURCE_DIR) + "/configs/iwae_mnist.yaml");
  EXPECT_EQ(iwae.name, "iwae_mnist");
  EXPECT_EQ(iwae.model.get<VaeConfig>().objective, "iwae");
  EXPECT_EQ(iwae.model.get<VaeConfig>().k, 5);
  EXPECT_EQ(iwae.model.get<VaeConfig>().iwae_gradient, "standard");
  // Everything else (architecture, data, optimiser, schedule) as in vae_mnist.
  ExperimentConfig vae = load_config(std::string(LVM_SOURCE_DIR) + "/configs/vae_mnist.yaml");
  vae.name = iwae.name;
  vae.model.get<VaeConfig>().objective = iwae.model.get<VaeConfig>().objective;
  vae.model.get<VaeConfig>().k = iwae.model.get<VaeConfig>().k;
  EXPECT_EQ(vae, iwae);
}

TEST(ConfigFiles, Gmm2d) {
  const ExperimentConfig c = load_config(std::string(LVM_SOURCE_DIR) + "/configs/gmm_2d.yaml");
  EXPECT_EQ(c.name, "gmm_2d");
  EXPECT_EQ(c.model.type(), "gmm");
  EXPECT_EQ(c.model.get<GmmConfig>().objective, "exact");
  EXPECT_EQ(c.model.get<GmmConfig>().components, 8);
  EXPECT_EQ(c.model.get<GmmConfig>().covariance, "full");
  EXPECT_EQ(c.model.get<GmmConfig>().fit, "em");
  EXPECT_EQ(c.model.get<GmmConfig>().init, "kmeans++");
  EXPECT_EQ(c.data.dataset, "synthetic");
  EXPECT_EQ(c.data.synthetic, "ring");
  EXPECT_EQ(c.data.n_train, 5000);
  // The same config fits by gradient with one override.
  EXPECT_EQ(load_config(std::string(LVM_SOURCE_DIR) + "/configs/gmm_2d.yaml", {"model.fit=gradient"})
                .model.get<GmmConfig>()
                .fit,
            "gradient");
}

TEST(ConfigFiles, ShippedConfigsRoundTripAndTakeOverrides) {
  for (const char* file :
       {"vae_mnist.yaml", "vae_mnist_classic.yaml", "vae_fashion.yaml", "iwae_mnist.yaml"}) {
    const ExperimentConfig c = load_config(std::string(LVM_SOURCE_DIR) + "/configs/" + file,
                                           {"model.objective=iwae", "model.k=5", "train.epochs=1"});
    EXPECT_EQ(c.model.get<VaeConfig>().k, 5) << file;
    EXPECT_EQ(parse_config(to_yaml(c), "x"), c) << file;
  }
}

}  // namespace
