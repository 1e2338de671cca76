// TorchScript export: every exported method against the native model (same random draws where
// randomness is involved), the streaming log-likelihood, bad input, run directories that do not
// fit, atomic replacement, and a separate Python process loading the file.

#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "lvm/config/config.h"
#include "lvm/export/torchscript.h"
#include "lvm/models/vae/vae.h"
#include "lvm/models/vae/vae_config.h"
#include "lvm/objectives/objective.h"
#include "lvm/train/checkpoint.h"
#include "lvm/train/run_dir.h"
#include "lvm/util/json.h"
#include "tests/testing.h"

namespace lvm::torchscript {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDataDim = 12;  // one example is [1, 3, 4]
constexpr int64_t kLatentDim = 3;
const std::vector<int64_t> kInputShape = {1, 3, 4};

struct Architecture {
  std::string likelihood;
  std::string activation;
};

config::ExperimentConfig experiment(const Architecture& arch) {
  auto cfg = config::parse_config("", "test");
  cfg.model.get<VaeConfig>().latent_dim = kLatentDim;
  cfg.model.get<VaeConfig>().encoder.hidden = {8, 7};
  cfg.model.get<VaeConfig>().decoder.hidden = {6};
  cfg.model.get<VaeConfig>().encoder.activation = arch.activation;
  cfg.model.get<VaeConfig>().decoder.activation = arch.activation;
  cfg.model.get<VaeConfig>().likelihood = arch.likelihood;
  cfg.data.binarize = arch.likelihood == "bernoulli" ? "dynamic" : "none";
  return cfg;
}

// A VAE with weights drawn from a seed, larger than the default initialisation so that every
// layer matters; the Gaussian decoder gets a non-trivial log-variance.
std::shared_ptr<Vae> make_vae(const Architecture& arch, uint64_t seed = 1) {
  const auto cfg = experiment(arch);
  torch::manual_seed(seed);
  auto vae = std::make_shared<Vae>(VaeOptions(kDataDim, kLatentDim)
                                       .encoder_hidden(cfg.model.get<VaeConfig>().encoder.hidden)
                                       .decoder_hidden(cfg.model.get<VaeConfig>().decoder.hidden)
                                       .activation(arch.activation)
                                       .likelihood(arch.likelihood));
  torch::NoGradGuard no_grad;
  for (auto& p : vae->parameters()) p.copy_(torch::randn_like(p) * 0.6);
  vae->eval();
  return vae;
}

torch::Tensor binary_batch(int64_t b, uint64_t seed = 5) {
  torch::manual_seed(seed);
  return torch::bernoulli(torch::full({b, kDataDim}, 0.4));
}

torch::Tensor grey_batch(int64_t b, uint64_t seed = 5) {
  torch::manual_seed(seed);
  return torch::rand({b, kDataDim});
}

ExportMetadata metadata_for(const Architecture& arch, int64_t epoch = 4) {
  const auto cfg = experiment(arch);
  ExportMetadata m;
  m.input_shape = kInputShape;
  m.binarization = cfg.data.binarize;
  m.config_yaml = config::to_yaml(cfg);
  m.epoch = epoch;
  return m;
}

torch::jit::Module export_and_load(Vae& vae, const ExportMetadata& metadata, const std::string& path) {
  save_module(vae, metadata, path);
  return torch::jit::load(path);
}

torch::Tensor call(torch::jit::Module& m, const std::string& method, std::vector<c10::IValue> args) {
  return m.get_method(method)(std::move(args)).toTensor();
}

std::pair<torch::Tensor, torch::Tensor> call_pair(torch::jit::Module& m, const std::string& method,
                                                  const torch::Tensor& arg) {
  const auto tuple = m.get_method(method)({arg}).toTuple();
  return {tuple->elements()[0].toTensor(), tuple->elements()[1].toTensor()};
}

// Same computation, so agreement to float rounding (the brief's 1e-5 relative).
void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  EXPECT_TRUE(torch::allclose(actual, expected, 1e-5, 1e-6))
      << what << ": max abs difference " << (actual - expected).abs().max().item<double>();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

// Both likelihoods and every activation.
const std::vector<Architecture> kArchitectures = {
    {"bernoulli", "tanh"}, {"bernoulli", "relu"}, {"gaussian", "elu"}, {"gaussian", "softplus"}};

void check_attributes(const Architecture& arch) {
  testing::TempDir dir;
  auto vae = make_vae(arch);
  const auto metadata = metadata_for(arch, 7);
  auto m = export_and_load(*vae, metadata, dir.file("vae.pt"));
  EXPECT_EQ(m.attr("model_kind").toStringRef(), "vae");
  EXPECT_EQ(m.attr("latent_dim").toInt(), kLatentDim);
  EXPECT_EQ(m.attr("data_dim").toInt(), kDataDim);
  EXPECT_EQ(m.attr("input_shape").toIntVector(), kInputShape);
  EXPECT_EQ(m.attr("likelihood").toStringRef(), arch.likelihood);
  EXPECT_EQ(m.attr("activation").toStringRef(), arch.activation);
  EXPECT_EQ(m.attr("binarization").toStringRef(), metadata.binarization);
  EXPECT_EQ(m.attr("config_yaml").toStringRef(), metadata.config_yaml);
  EXPECT_EQ(m.attr("epoch").toInt(), 7);
  EXPECT_EQ(m.attr("lvm_version").toStringRef(), LVM_VERSION);
  EXPECT_EQ(m.attr("export_format_version").toInt(), kExportFormatVersion);
  // The embedded config is the run's: it parses back to the same experiment.
  EXPECT_TRUE(config::parse_config(m.attr("config_yaml").toStringRef(), "export") == experiment(arch));
  // Every public method is there; the weights are copies, not the model's tensors.
  for (const auto& name : exported_methods(*vae)) EXPECT_TRUE(m.find_method(name).has_value()) << name;
  EXPECT_EQ(m.find_method("decode_logits").has_value(), arch.likelihood == "bernoulli");
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  int64_t expected = 0;
  for (const auto& p : vae->parameters()) expected += p.numel();
  EXPECT_EQ(n, expected);
}

void check_deterministic_methods(const Architecture& arch) {
  testing::TempDir dir;
  auto vae = make_vae(arch);
  auto m = export_and_load(*vae, metadata_for(arch), dir.file("vae.pt"));
  torch::NoGradGuard no_grad;
  const auto x = arch.likelihood == "bernoulli" ? binary_batch(5) : grey_batch(5);
  const Normal q = vae->encode(x);

  const auto [mean, log_var] = call_pair(m, "encode", x);
  expect_close(mean, q.mean(), "encode mean");
  expect_close(log_var, q.log_var(), "encode log_var");
  // Images as stored ([B, 1, 3, 4]) are flattened.
  const auto [mean_4d, log_var_4d] = call_pair(m, "encode", x.reshape({5, 1, 3, 4}));
  expect_close(mean_4d, q.mean(), "encode of [B, 1, 3, 4]");
  // float64 input (e.g. from numpy) is cast to the weights' float32.
  expect_close(call_pair(m, "encode", x.to(torch::kDouble)).first, q.mean(), "encode of float64 x");

  // decode on a batch of samples [S, B, Z], as the likelihood accepts.
  torch::manual_seed(11);
  const auto z = torch::randn({2, 5, kLatentDim});
  const auto native = vae->likelihood(z);
  if (arch.likelihood == "bernoulli") {
    const auto& bernoulli = dynamic_cast<const Bernoulli&>(*native);
    expect_close(call(m, "decode", {z}), bernoulli.mean(), "decode probabilities");
    expect_close(call(m, "decode_logits", {z}), bernoulli.logits(), "decode_logits");
  } else {
    const auto& normal = dynamic_cast<const Normal&>(*native);
    const auto [p_mean, p_log_var] = call_pair(m, "decode", z);
    expect_close(p_mean, normal.mean(), "decode mean");
    expect_close(p_log_var, normal.log_var().expand_as(normal.mean()), "decode log_var");
  }
  expect_close(call(m, "reconstruct", {x}), vae->likelihood(q.mean())->mean(), "reconstruct");
}

void check_random_methods(const Architecture& arch) {
  testing::TempDir dir;
  auto vae = make_vae(arch);
  auto m = export_and_load(*vae, metadata_for(arch), dir.file("vae.pt"));
  torch::NoGradGuard no_grad;
  const auto x = arch.likelihood == "bernoulli" ? binary_batch(6) : grey_batch(6);

  auto native_then_exported = [&](const std::function<torch::Tensor()>& native,
                                  const std::function<torch::Tensor()>& exported, const std::string& what) {
    torch::manual_seed(1234);
    const auto expected = native();
    torch::manual_seed(1234);
    expect_close(exported(), expected, what);
  };
  native_then_exported([&] { return lvm::elbo(*vae, x, 1).value; }, [&] { return call(m, "elbo", {x}); },
                       "elbo");
  native_then_exported([&] { return lvm::elbo(*vae, x, 1).value; }, [&] { return m.forward({x}).toTensor(); },
                       "forward");
  native_then_exported([&] { return vae->sample(9); }, [&] { return call(m, "sample", {int64_t{9}}); },
                       "sample");
  native_then_exported([&] { return vae->sample(9, /*mean=*/true); },
                       [&] { return call(m, "sample_mean", {int64_t{9}}); }, "sample_mean");
  native_then_exported([&] { return vae->prior()->sample({9}); },
                       [&] { return call(m, "sample_latent", {int64_t{9}}); }, "sample_latent");
  // One chunk holding all k draws takes exactly the draws of the native IWAE estimate.
  native_then_exported([&] { return lvm::iwae(*vae, x, 40).value; },
                       [&] {
                         return call(m, "log_likelihood", {x, int64_t{40}, int64_t{40}});
                       },
                       "log_likelihood, one chunk");
  if (arch.likelihood == "bernoulli") {
    torch::manual_seed(3);
    const auto s = call(m, "sample", {int64_t{50}});
    EXPECT_TRUE(torch::equal(s, s.round())) << "Bernoulli samples are binary";
  }
}

TEST(ExportRoundTrip, AttributesRecordTheModelAndRun) {
  for (const auto& arch : kArchitectures) {
    SCOPED_TRACE(arch.likelihood + " decoder, " + arch.activation);
    check_attributes(arch);
  }
}

TEST(ExportRoundTrip, DeterministicMethodsMatchTheNativeModel) {
  for (const auto& arch : kArchitectures) {
    SCOPED_TRACE(arch.likelihood + " decoder, " + arch.activation);
    check_deterministic_methods(arch);
  }
}

TEST(ExportRoundTrip, RandomMethodsMatchTheNativeModelUnderTheSameSeed) {
  for (const auto& arch : kArchitectures) {
    SCOPED_TRACE(arch.likelihood + " decoder, " + arch.activation);
    check_random_methods(arch);
  }
}

// The native computation of the chunked estimator, drawing the same chunks in the same order:
// log (1/k) Σ_j p(x, z_j) / q(z_j|x) over all chunks at once.
torch::Tensor native_chunked_log_likelihood(Vae& vae, const torch::Tensor& x, int64_t k, int64_t chunk) {
  const Normal q = vae.encode(x);
  std::vector<torch::Tensor> log_w;
  for (int64_t done = 0; done < k; done += chunk) {
    const int64_t s = std::min(chunk, k - done);
    const auto z = q.rsample({s});
    log_w.push_back(vae.log_joint(x, z) - q.log_prob(z));
  }
  return torch::logsumexp(torch::cat(log_w), 0) - std::log(static_cast<double>(k));
}

TEST(ExportLogLikelihood, StreamsOverChunksExactly) {
  testing::TempDir dir;
  const Architecture arch{"bernoulli", "tanh"};
  auto vae = make_vae(arch);
  auto m = export_and_load(*vae, metadata_for(arch), dir.file("vae.pt"));
  torch::NoGradGuard no_grad;
  const auto x = binary_batch(4);
  // 50 = 7 chunks of 7 and one of 1.
  torch::manual_seed(99);
  const auto expected = native_chunked_log_likelihood(*vae, x, 50, 7);
  torch::manual_seed(99);
  expect_close(call(m, "log_likelihood", {x, int64_t{50}, int64_t{7}}), expected, "chunk_size 7");

  // The automatic chunk size is chunk_elements / (B * widest layer): 4 * 12 * 3 elements -> 3.
  m.setattr("chunk_elements", int64_t{4 * kDataDim * 3});
  torch::manual_seed(99);
  const auto expected_auto = native_chunked_log_likelihood(*vae, x, 50, 3);
  torch::manual_seed(99);
  expect_close(call(m, "log_likelihood", {x, int64_t{50}}), expected_auto, "automatic chunk size");
}

TEST(ExportLogLikelihood, AgreesWithTheNativeEstimateWithinItsStandardError) {
  // Independent draws on both sides: each side's estimate of log p(x) for the same k has the
  // same distribution, so the mean difference over R repeats and B examples is zero within
  // the standard error measured from the repeats themselves.
  testing::TempDir dir;
  const Architecture arch{"bernoulli", "tanh"};
  auto vae = make_vae(arch);
  auto m = export_and_load(*vae, metadata_for(arch), dir.file("vae.pt"));
  torch::NoGradGuard no_grad;
  const auto x = binary_batch(8);
  const int64_t k = 64, repeats = 30;
  torch::manual_seed(2024);
  std::vector<torch::Tensor> native, exported;
  for (int64_t r = 0; r < repeats; ++r) {
    native.push_back(lvm::iwae(*vae, x, k).value.to(torch::kDouble));
    exported.push_back(call(m, "log_likelihood", {x, k, int64_t{5}}).to(torch::kDouble));
  }
  const auto a = torch::stack(native), b = torch::stack(exported);  // [R, B]
  const double difference = (b.mean() - a.mean()).item<double>();
  const double n = static_cast<double>(repeats);
  // Var of the mean over R repeats of B examples: Σ_b (var_a + var_b) / R / B².
  const double std_error =
      std::sqrt(((a.var(0) + b.var(0)).sum() / n).item<double>()) / static_cast<double>(x.size(0));
  EXPECT_GT(std_error, 0.0);
  EXPECT_LT(std::abs(difference), 4 * std_error)
      << "difference " << difference << ", standard error " << std_error;
}

TEST(ExportLogLikelihood, LargeKRunsInChunks) {
  testing::TempDir dir;
  const Architecture arch{"bernoulli", "tanh"};
  auto vae = make_vae(arch);
  auto m = export_and_load(*vae, metadata_for(arch), dir.file("vae.pt"));
  torch::NoGradGuard no_grad;
  const auto x = binary_batch(3);
  torch::manual_seed(5);
  const auto ll = call(m, "log_likelihood", {x, int64_t{5000}});
  ASSERT_EQ(ll.sizes(), (std::vector<int64_t>{3}));
  EXPECT_TRUE(torch::isfinite(ll).all().item<bool>());
  // E[log p̂_k] grows with k from the ELBO (k = 1) towards log p(x): the 5000-draw estimate
  // lies above the ELBO averaged over many draws.
  torch::manual_seed(6);
  auto elbo_sum = torch::zeros({3});
  for (int i = 0; i < 200; ++i) elbo_sum += call(m, "elbo", {x});
  EXPECT_TRUE((ll > elbo_sum / 200).all().item<bool>()) << ll << elbo_sum / 200;
}

TEST(ExportInputs, BadInputsAreClearErrors) {
  testing::TempDir dir;
  const Architecture arch{"bernoulli", "tanh"};
  auto vae = make_vae(arch);
  auto m = export_and_load(*vae, metadata_for(arch), dir.file("vae.pt"));
  EXPECT_NE(error_of([&] {
              call_pair(m, "encode", torch::zeros({2, 5}));
            }).find("expected x of shape [B, 12] or [B, *input_shape], got [2, 5]"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              call_pair(m, "encode", torch::zeros({2, 12}, torch::kLong));
            }).find("expected floating-point x"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              call(m, "decode", {torch::zeros({2, 4})});
            }).find("expected z of shape [..., 3], got [2, 4]"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              call(m, "log_likelihood", {torch::zeros({2, 12}), int64_t{0}});
            }).find("log_likelihood: expected k >= 1, got 0"),
            std::string::npos);
  EXPECT_NE(error_of([&] { call(m, "sample", {int64_t{-1}}); }).find("expected n >= 0, got -1"),
            std::string::npos);
}

TEST(ExportInputs, MetadataMustFitTheModel) {
  testing::TempDir dir;
  const Architecture arch{"bernoulli", "tanh"};
  auto vae = make_vae(arch);
  auto metadata = metadata_for(arch);
  metadata.input_shape = {1, 28, 28};
  EXPECT_NE(error_of([&] {
              save_module(*vae, metadata, dir.file("vae.pt"));
            }).find("input shape [1, 28, 28] has 784 elements but the model's data_dim is 12"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir.file("vae.pt")));
}

// ---------------------------------------------------------------------------------------------
// Run directories.

// A run directory as `lvm train` leaves it, without training: config.yaml and both checkpoints.
void write_run(const std::string& run_dir, const Architecture& arch, Vae& vae,
               std::vector<int64_t> data_shape = kInputShape) {
  fs::create_directories(run_dir + "/checkpoints");
  const auto yaml = config::to_yaml(experiment(arch));
  testing::write_file(run_dir + "/config.yaml", yaml);
  train::CheckpointState state;
  state.config_yaml = yaml;
  state.data_shape = std::move(data_shape);
  state.epoch = 3;
  train::save_checkpoint(run_dir + "/checkpoints/best.pt", vae, nullptr, state);
  state.epoch = 5;
  train::save_checkpoint(run_dir + "/checkpoints/last.pt", vae, nullptr, state);
}

TEST(ExportRun, ExportsTheChosenCheckpoint) {
  testing::TempDir dir;
  const Architecture arch{"gaussian", "tanh"};
  auto vae = make_vae(arch);
  write_run(dir.file("run"), arch, *vae);
  const auto best = export_run(dir.file("run"), "best", dir.file("best.pt"));
  EXPECT_EQ(best.epoch, 3);
  EXPECT_EQ(best.checkpoint_path, dir.file("run") + "/checkpoints/best.pt");
  EXPECT_EQ(best.bytes, fs::file_size(dir.file("best.pt")));
  EXPECT_EQ(torch::jit::load(dir.file("best.pt")).attr("epoch").toInt(), 3);
  EXPECT_EQ(export_run(dir.file("run"), "last", dir.file("last.pt")).epoch, 5);
  const auto by_path =
      export_run(dir.file("run"), dir.file("run") + "/checkpoints/last.pt", dir.file("p.pt"));
  EXPECT_EQ(by_path.epoch, 5);

  auto m = torch::jit::load(dir.file("best.pt"));
  torch::NoGradGuard no_grad;
  const auto x = grey_batch(3);
  expect_close(call_pair(m, "encode", x).first, vae->encode(x).mean(), "encode after export_run");
  EXPECT_EQ(m.attr("binarization").toStringRef(), "none");
}

TEST(ExportRun, ReplacesAnExistingFileOnlyWhenTheExportSucceeds) {
  testing::TempDir dir;
  const Architecture arch{"bernoulli", "tanh"};
  auto vae = make_vae(arch);
  write_run(dir.file("run"), arch, *vae);
  const auto out = dir.file("model.pt");
  testing::write_file(out, "previous export");

  // A failing export (truncated checkpoint) leaves the old file and no temporary behind.
  const auto good = testing::read_file(dir.file("run") + "/checkpoints/best.pt");
  testing::write_file(dir.file("run") + "/checkpoints/best.pt", good.substr(0, good.size() / 2));
  EXPECT_NE(error_of([&] { export_run(dir.file("run"), "best", out); }).find("not a readable checkpoint"),
            std::string::npos);
  EXPECT_EQ(testing::read_file(out), "previous export");

  testing::write_file(dir.file("run") + "/checkpoints/best.pt", good);
  export_run(dir.file("run"), "best", out);
  EXPECT_EQ(torch::jit::load(out).attr("epoch").toInt(), 3);
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 2) << "only run/ and model.pt: no temporary file left";
}

TEST(ExportRun, RunDirectoriesThatDoNotFitAreClearErrors) {
  testing::TempDir dir;
  const Architecture arch{"bernoulli", "tanh"};
  auto vae = make_vae(arch);
  const auto run = dir.file("run");
  write_run(run, arch, *vae);
  const auto out = dir.file("out.pt");

  EXPECT_NE(error_of([&] {
              export_run(dir.file("nope"), "best", out);
            }).find(dir.file("nope") + ": run directory does not exist"),
            std::string::npos);
  fs::create_directories(dir.file("empty"));
  EXPECT_NE(error_of([&] {
              export_run(dir.file("empty"), "best", out);
            }).find("not a run directory (no config.yaml"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              export_run(run, dir.file("missing.pt"), out);
            }).find(dir.file("missing.pt") + ": checkpoint not found"),
            std::string::npos);
  EXPECT_NE(error_of([&] { export_run(run, "best", dir.file("no/such/dir/out.pt")); }).find("does not exist"),
            std::string::npos);

  // config.yaml edited to another architecture than the checkpoint was trained with.
  const auto yaml = testing::read_file(run + "/config.yaml");
  auto edited = experiment(arch);
  edited.model.get<VaeConfig>().latent_dim = 4;
  edited.model.get<VaeConfig>().encoder.activation = "relu";
  edited.model.get<VaeConfig>().decoder.activation = "relu";
  testing::write_file(run + "/config.yaml", config::to_yaml(edited));
  const auto mismatch = error_of([&] { export_run(run, "best", out); });
  EXPECT_NE(mismatch.find("does not belong to " + run + "/config.yaml"), std::string::npos) << mismatch;
  EXPECT_NE(mismatch.find("model.latent_dim is 4 in config.yaml but 3 in the checkpoint"), std::string::npos)
      << mismatch;
  EXPECT_NE(mismatch.find("model.encoder.activation is relu in config.yaml but tanh in the checkpoint"),
            std::string::npos)
      << mismatch;
  EXPECT_NE(mismatch.find("model.decoder.activation is relu in config.yaml but tanh in the checkpoint"),
            std::string::npos)
      << mismatch;
  testing::write_file(run + "/config.yaml", yaml);

  // A checkpoint of another architecture whose state carries no config: the parameter shapes
  // give it away.
  auto other = std::make_shared<Vae>(VaeOptions(kDataDim, 2).encoder_hidden({8, 7}).decoder_hidden({6}));
  train::CheckpointState state;
  state.data_shape = kInputShape;
  train::save_checkpoint(dir.file("other.pt"), *other, nullptr, state);
  const auto shapes = error_of([&] { export_run(run, dir.file("other.pt"), out); });
  EXPECT_NE(shapes.find("in the checkpoint but"), std::string::npos) << shapes;
  EXPECT_NE(shapes.find("another model architecture"), std::string::npos) << shapes;

  EXPECT_FALSE(fs::exists(out));
}

TEST(ExportRun, OlderCheckpointsTakeTheDataShapeFromTheDataSet) {
  testing::TempDir dir;
  const Architecture arch{"bernoulli", "tanh"};
  // 8x8 images: a model of 64 pixels.
  auto cfg = experiment(arch);
  cfg.data.path = dir.file("data");
  auto vae = std::make_shared<Vae>(VaeOptions(64, kLatentDim)
                                       .encoder_hidden(cfg.model.get<VaeConfig>().encoder.hidden)
                                       .decoder_hidden(cfg.model.get<VaeConfig>().decoder.hidden));
  const auto run = dir.file("run");
  fs::create_directories(run + "/checkpoints");
  testing::write_file(run + "/config.yaml", config::to_yaml(cfg));
  train::CheckpointState state;  // no data_shape, as before it was recorded
  state.config_yaml = config::to_yaml(cfg);
  train::save_checkpoint(run + "/checkpoints/best.pt", *vae, nullptr, state);

  EXPECT_NE(
      error_of([&] { export_run(run, "best", dir.file("a.pt")); }).find("does not record the data shape"),
      std::string::npos);
  testing::write_tiny_mnist(dir.file("data"), 20, 10);
  export_run(run, "best", dir.file("a.pt"));
  EXPECT_EQ(torch::jit::load(dir.file("a.pt")).attr("input_shape").toIntVector(),
            (std::vector<int64_t>{1, 8, 8}));
}

TEST(ExportRun, LoadsOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  testing::TempDir dir;
  const Architecture arch{"bernoulli", "tanh"};
  auto vae = make_vae(arch);
  save_module(*vae, metadata_for(arch), dir.file("vae.pt"));
  auto m = torch::jit::load(dir.file("vae.pt"), torch::kCUDA);
  torch::NoGradGuard no_grad;
  const auto x = binary_batch(4);
  expect_close(call_pair(m, "encode", x.cuda()).first.cpu(), vae->encode(x).mean(), "encode on CUDA");
  EXPECT_TRUE(call(m, "sample", {int64_t{3}}).is_cuda());
  EXPECT_TRUE(call(m, "log_likelihood", {x.cuda(), int64_t{10}}).is_cuda());
}

// ---------------------------------------------------------------------------------------------
// Python: a separate process with no lvm code loads the file (scripts/check_export.py).

util::Json to_json(const torch::Tensor& t) {
  const auto values = t.detach().to(torch::kDouble).contiguous();
  if (values.dim() == 0) return values.item<double>();
  auto out = util::Json::array();
  for (int64_t i = 0; i < values.size(0); ++i) out.push(to_json(values[i]));
  return out;
}

// Exports `vae` to `path` and writes `path`.check.json: fixed inputs and what the native model
// gives for them (seeded where random).
void write_reference(Vae& vae, const Architecture& arch, const std::string& path) {
  torch::NoGradGuard no_grad;
  const auto metadata = metadata_for(arch);
  save_module(vae, metadata, path);
  const auto x = arch.likelihood == "bernoulli" ? binary_batch(4) : grey_batch(4);
  torch::manual_seed(77);
  const auto z = torch::randn({4, kLatentDim});
  const int64_t seed = 4321, k = 64, repeats = 30;
  const Normal q = vae.encode(x);
  auto json = util::Json::object();
  json.set("likelihood", arch.likelihood)
      .set("activation", arch.activation)
      .set("latent_dim", kLatentDim)
      .set("data_dim", kDataDim)
      .set("epoch", metadata.epoch)
      .set("binarization", metadata.binarization)
      .set("lvm_version", LVM_VERSION)
      .set("export_format_version", kExportFormatVersion)
      .set("seed", seed)
      .set("k", k)
      .set("repeats", repeats)
      .set("x", to_json(x))
      .set("z", to_json(z))
      .set("encode_mean", to_json(q.mean()))
      .set("encode_log_var", to_json(q.log_var()));
  const auto p = vae.likelihood(z);
  json.set("decode_mean", to_json(p->mean()));
  if (arch.likelihood == "bernoulli") {
    json.set("decode_logits", to_json(dynamic_cast<const Bernoulli&>(*p).logits()));
  } else {
    json.set("decode_log_var", to_json(dynamic_cast<const Normal&>(*p).log_var().expand_as(p->mean())));
  }
  json.set("reconstruct", to_json(vae.likelihood(q.mean())->mean()));
  torch::manual_seed(seed);
  json.set("elbo_seeded", to_json(lvm::elbo(vae, x, 1).value));
  torch::manual_seed(seed);
  json.set("sample_seeded", to_json(vae.sample(5)));
  // The native importance-sampling estimate: mean and variance over repeats, per example.
  std::vector<torch::Tensor> estimates;
  for (int64_t r = 0; r < repeats; ++r) estimates.push_back(lvm::iwae(vae, x, k).value.to(torch::kDouble));
  const auto stacked = torch::stack(estimates);
  json.set("log_likelihood_mean", to_json(stacked.mean(0)))
      .set("log_likelihood_var", to_json(stacked.var(0)));
  testing::write_file(path + ".check.json", json.dump());
}

TEST(ExportPython, PythonLoadsTheExportAndReproducesTheNativeNumbers) {
  const auto python = testing::python_with_torch();
  if (python.empty()) {
    GTEST_SKIP() << "no python3 with torch (install python3-torch: scripts/install_deps.sh --python); "
                    "the Python check of exported files did not run";
  }
  testing::TempDir dir;
  std::string files;
  for (const Architecture& arch : {Architecture{"bernoulli", "relu"}, Architecture{"gaussian", "tanh"}}) {
    auto vae = make_vae(arch, 3);
    const auto path = dir.file(arch.likelihood + ".pt");
    write_reference(*vae, arch, path);
    files += " " + path;
  }
  const std::string command = python + " " + LVM_SOURCE_DIR + "/scripts/check_export.py" + files;
  const auto checked = testing::run_shell(command);
  const std::string& output = checked.output;
  ASSERT_EQ(checked.exit_code, 0) << command << "\n" << output;
  EXPECT_NE(output.find("bernoulli.pt: ok"), std::string::npos) << output;
  EXPECT_NE(output.find("gaussian.pt: ok"), std::string::npos) << output;
}

}  // namespace
}  // namespace lvm::torchscript
