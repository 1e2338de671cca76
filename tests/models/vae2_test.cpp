// The two-layer VAE against a linear-Gaussian hierarchy z2 -> z1 -> x whose log p(x) and
// posterior are closed-form; its config rules, its export, and a run through the CLI.

#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <string>

#include "lvm/config/config.h"
#include "lvm/estimators/estimators.h"
#include "lvm/export/torchscript.h"
#include "lvm/models/registry.h"
#include "lvm/models/vae2/vae2.h"
#include "lvm/models/vae2/vae2_config.h"
#include "lvm/objectives/objective.h"
#include "lvm/util/json.h"
#include "tests/testing.h"

namespace lvm {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

// Two independent chains, one per dimension j (D = Z1 = Z2 = 2):
//   z2_j ~ N(0, 1),  z1_j | z2 ~ N(a_j z2_j + c_j, s1_j²),  x_j | z1 ~ N(b_j z1_j + d_j, sx_j²).
// Then z1_j ~ N(c_j, v1_j) with v1 = a² + s1², x_j ~ N(b_j c_j + d_j, b_j² v1_j + sx_j²), and the
// exact posterior p(z1, z2 | x) = p(z1|x) p(z2|z1) (x depends on z2 only through z1) is a pair of
// linear Gaussian conditionals: exactly the form of the vae2's proposal q(z1|x) q(z2|z1).
struct Chain {
  torch::Tensor a = torch::tensor({0.9, -1.4}, kDouble), c = torch::tensor({0.3, -0.5}, kDouble);
  torch::Tensor s1_sq = torch::tensor({0.5, 0.2}, kDouble);
  torch::Tensor b = torch::tensor({1.2, 0.7}, kDouble), d = torch::tensor({-0.2, 0.4}, kDouble);
  torch::Tensor sx_sq = torch::tensor({0.3, 0.6}, kDouble);

  torch::Tensor v1() const { return a * a + s1_sq; }
  /// x [B, 2] -> log p(x) [B]
  torch::Tensor log_px(const torch::Tensor& x) const {
    const auto var = b * b * v1() + sx_sq, mean = b * c + d;
    return (-0.5 * ((x - mean).pow(2) / var + var.log() + std::log(2 * M_PI))).sum(-1);
  }
  /// log p(z1, z2) for z [..., 4] laid out [z1, z2].
  torch::Tensor log_prior(const torch::Tensor& z) const {
    const auto z1 = z.narrow(-1, 0, 2), z2 = z.narrow(-1, 2, 2);
    const auto top = -0.5 * (z2.pow(2) + std::log(2 * M_PI));
    const auto bottom = -0.5 * ((z1 - a * z2 - c).pow(2) / s1_sq + s1_sq.log() + std::log(2 * M_PI));
    return (top + bottom).sum(-1);
  }
};

torch::Tensor diagonal_head(const torch::Tensor& slope, int64_t inputs) {
  // A Linear's weight [2Z, inputs] whose mean rows are diag(slope) and log-variance rows zero.
  auto w = torch::zeros({2 * slope.size(0), inputs}, kDouble);
  w.narrow(0, 0, slope.size(0)).copy_(torch::diag(slope));
  return w;
}

void set(Vae2& model, const std::string& name, const torch::Tensor& value) {
  torch::NoGradGuard no_grad;
  auto params = model.named_parameters();
  ASSERT_TRUE(params.contains(name)) << name;
  params[name].copy_(value);
}

// A vae2 with linear parts (no hidden layers) in double precision set to the chain, with the
// exact posterior as its proposal; `shift` moves q's means away from it.
std::shared_ptr<Vae2> chain_vae2(const Chain& m, double shift = 0) {
  auto model = std::make_shared<Vae2>(Vae2Options(2, 2, 2)
                                          .encoder_hidden({})
                                          .top_encoder_hidden({})
                                          .top_decoder_hidden({})
                                          .decoder_hidden({})
                                          .likelihood("gaussian"));
  model->to(torch::kDouble);
  // p(z1|z2) and p(x|z1).
  set(*model, "top_decoder.net.layers.0.weight", diagonal_head(m.a, 2));
  set(*model, "top_decoder.net.layers.0.bias", torch::cat({m.c, m.s1_sq.log()}));
  set(*model, "decoder.net.layers.0.weight", torch::diag(m.b));
  set(*model, "decoder.net.layers.0.bias", m.d);
  set(*model, "decoder.log_var", m.sx_sq.log());
  // p(z1|x): precision 1/v1 + b²/sx², mean var·(c/v1 + b (x − d)/sx²).
  const auto post1 = 1 / (1 / m.v1() + m.b * m.b / m.sx_sq);
  set(*model, "encoder.net.layers.0.weight", diagonal_head(post1 * m.b / m.sx_sq, 2));
  set(*model, "encoder.net.layers.0.bias",
      torch::cat({post1 * (m.c / m.v1() - m.b * m.d / m.sx_sq) + shift, post1.log()}));
  // p(z2|z1): precision 1 + a²/s1², mean var·a (z1 − c)/s1².
  const auto post2 = 1 / (1 + m.a * m.a / m.s1_sq);
  set(*model, "top_encoder.net.layers.0.weight", diagonal_head(post2 * m.a / m.s1_sq, 2));
  set(*model, "top_encoder.net.layers.0.bias",
      torch::cat({-post2 * m.a * m.c / m.s1_sq - shift, post2.log()}));
  return model;
}

// A small vae2 with one hidden layer per part, D = 6, Z1 = 3, Z2 = 2.
Vae2Options small_options(const std::string& likelihood = "bernoulli") {
  return Vae2Options(6, 3, 2)
      .encoder_hidden({5})
      .top_encoder_hidden({4})
      .top_decoder_hidden({4})
      .decoder_hidden({5})
      .likelihood(likelihood);
}

const torch::Tensor kX = torch::tensor({{0.5, -1.0}, {2.0, 0.3}, {-1.5, 1.2}}, kDouble);

TEST(Vae2, PriorAndLikelihoodAreTheChainsDensities) {
  const Chain m;
  auto model = chain_vae2(m);
  torch::NoGradGuard no_grad;
  const auto z = torch::randn({5, 3, 4}, kDouble);
  EXPECT_TRUE(torch::allclose(model->prior()->log_prob(z), m.log_prior(z), 1e-12, 1e-12));
  const auto z1 = z.narrow(-1, 0, 2);
  const auto expected =
      (-0.5 * ((kX - m.b * z1 - m.d).pow(2) / m.sx_sq + m.sx_sq.log() + std::log(2 * M_PI))).sum(-1);
  EXPECT_TRUE(torch::allclose(model->log_likelihood(kX, z), expected, 1e-12, 1e-12));

  // Draws from the prior have the chain's moments: Var z2 = 1, Cov(z1, z2) = a, Var z1 = v1.
  torch::manual_seed(1);
  const int64_t n = 200000;
  const auto draws = model->prior()->sample({n});  // [n, 4]
  ASSERT_EQ(draws.sizes(), (std::vector<int64_t>{n, 4}));
  const auto centred = draws - draws.mean(0);
  const auto cov = centred.t().matmul(centred) / static_cast<double>(n);
  for (int64_t j = 0; j < 2; ++j) {
    // Standard errors of these moments are below 0.01 at this n.
    EXPECT_NEAR(cov[j + 2][j + 2].item<double>(), 1.0, 0.02);
    EXPECT_NEAR(cov[j][j + 2].item<double>(), m.a[j].item<double>(), 0.03);
    EXPECT_NEAR(cov[j][j].item<double>(), m.v1()[j].item<double>(), 0.04);
  }
}

TEST(Vae2, ExactPosteriorAsProposalGivesTheExactLogLikelihoodAtEveryK) {
  const Chain m;
  auto model = chain_vae2(m);
  torch::NoGradGuard no_grad;
  const auto exact = m.log_px(kX);
  for (const int64_t k : {1, 5, 50}) {
    // Every importance weight is p(x): each estimate is exact, not only in expectation.
    EXPECT_TRUE(torch::allclose(iwae(*model, kX, k).value, exact, 1e-10, 1e-10)) << "k = " << k;
    const auto is = estimators::importance_sampling(*model, kX, estimators::SamplingOptions(k));
    EXPECT_TRUE(torch::allclose(is.log_px, exact, 1e-10, 1e-10)) << "k = " << k;
    EXPECT_TRUE(torch::allclose(is.ess, torch::full_like(is.ess, static_cast<double>(k)), 1e-8))
        << "k = " << k;
  }
  EXPECT_TRUE(torch::allclose(elbo(*model, kX, 1, KlMode::kMonteCarlo).value, exact, 1e-10, 1e-10));
}

TEST(Vae2, WithAnInexactProposalTheBoundsRiseWithKTowardLogPx) {
  const Chain m;
  auto model = chain_vae2(m, /*shift=*/0.8);
  torch::NoGradGuard no_grad;
  torch::manual_seed(2);
  const int64_t copies = 4000;
  const auto x = kX.repeat({copies, 1});            // [3 copies, 2]
  auto mean_and_se = [&](const torch::Tensor& v) {  // v [copies·3] -> per image [3], [3]
    const auto per = v.reshape({copies, 3});
    return std::pair{per.mean(0), per.std(0) / std::sqrt(static_cast<double>(copies))};
  };
  const auto exact = m.log_px(kX);
  auto [previous, previous_se] = mean_and_se(elbo(*model, x, 1, KlMode::kMonteCarlo).value);
  for (const int64_t k : {5, 50}) {
    const auto [bound, se] = mean_and_se(iwae(*model, x, k).value);
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_GT(bound[i].item<double>(),
                previous[i].item<double>() + 3 * (se[i] + previous_se[i]).item<double>())
          << "k = " << k << ", image " << i;
      EXPECT_LT(bound[i].item<double>(), exact[i].item<double>()) << "k = " << k << ", image " << i;
    }
    previous = bound;
    previous_se = se;
  }
}

// The DReG estimator of the IWAE bound's gradient for q's parameters has the expectation of the
// standard one: on many draws (copies of the same images) the two agree within their spread.
TEST(Vae2, DregAndStandardGradientsAgreeInExpectation) {
  const Chain m;
  auto model = chain_vae2(m, /*shift=*/0.8);
  const int64_t chunks = 10, copies = 2000, k = 5;
  const auto x = kX.repeat({copies, 1});
  auto gradients = [&](IwaeGradient estimator) {  // [chunks, P]: each chunk's gradient of q's weights
    std::vector<torch::Tensor> rows;
    for (int64_t c = 0; c < chunks; ++c) {
      model->zero_grad();
      iwae(*model, x, k, estimator).backward();
      std::vector<torch::Tensor> flat;
      for (const auto& p : model->proposal_parameters()) flat.push_back(p.grad().flatten().clone());
      rows.push_back(torch::cat(flat));
    }
    return torch::stack(rows);
  };
  torch::manual_seed(3);
  const auto standard = gradients(IwaeGradient::kStandard);
  const auto dreg = gradients(IwaeGradient::kDreg);
  const auto diff = standard.mean(0) - dreg.mean(0);
  const auto se = ((standard.var(0) + dreg.var(0)) / chunks).sqrt();
  EXPECT_GT(standard.mean(0).abs().max().item<double>(), 0.01);
  for (int64_t i = 0; i < diff.size(0); ++i) {
    EXPECT_LT(std::abs(diff[i].item<double>()), 5 * se[i].item<double>() + 1e-6) << "parameter entry " << i;
  }
  // DReG is the lower-variance estimator here.
  EXPECT_LT(dreg.var(0).sum().item<double>(), standard.var(0).sum().item<double>());
}

// Training's gradient is the derivative of its bound: with the draws fixed (the same seed), the
// autograd gradient of the Monte Carlo ELBO and of the IWAE bound matches central differences for
// every weight of all four tanh parts (nothing is detached that should not be).
TEST(Vae2, GradientsOfTheBoundsAreTheirDerivatives) {
  torch::manual_seed(7);
  Vae2 model(small_options("gaussian"));
  model.to(torch::kDouble);
  const auto x = torch::rand({2, 6}, kDouble);
  for (const bool use_iwae : {false, true}) {
    auto bound = [&] {
      torch::manual_seed(11);
      return use_iwae ? iwae(model, x, 3) : elbo(model, x, 2, KlMode::kMonteCarlo);
    };
    model.zero_grad();
    bound().backward();
    torch::NoGradGuard no_grad;
    for (const auto& item : model.named_parameters()) {
      const std::string& name = item.key();
      const auto flat = item.value().view(-1);
      const auto grad = item.value().grad().view(-1);
      for (int64_t i = 0; i < flat.numel(); i += 3) {
        const double h = 1e-6, saved = flat[i].template item<double>();
        flat[i].fill_(saved + h);
        const double up = bound().loss.template item<double>();
        flat[i].fill_(saved - h);
        const double down = bound().loss.template item<double>();
        flat[i].fill_(saved);
        EXPECT_NEAR(grad[i].template item<double>(), (up - down) / (2 * h), 1e-6)
            << (use_iwae ? "iwae " : "elbo ") << name << "[" << i << "]";
      }
    }
  }
}

TEST(Vae2, ActiveUnitsAreCountedPerLayer) {
  auto model = chain_vae2(Chain());
  const auto x = torch::linspace(-2, 2, 40, kDouble).reshape({20, 2});
  const auto all = estimators::active_units(*model, x, 7, 0.01);
  EXPECT_EQ(all.group_sizes, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(all.group_counts, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(all.count, 4);
  // q(z2|z1) ignoring z1: z2's posterior mean is the same for every image, so z2 is inactive.
  set(*model, "top_encoder.net.layers.0.weight", torch::zeros({4, 2}, kDouble));
  const auto bottom_only = estimators::active_units(*model, x, 7, 0.01);
  EXPECT_EQ(bottom_only.group_counts, (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(bottom_only.count, 2);
}

TEST(Vae2, ProposalAndGenerativeParametersAreSplitByLayer) {
  auto model = chain_vae2(Chain());
  const auto proposal = model->proposal_parameters();
  EXPECT_EQ(proposal.size(), 4u);  // q(z1|x) and q(z2|z1): a weight and a bias each
  int64_t generative = 0;
  for (const auto& p : model->generative_parameters()) generative += p.numel();
  // p(z1|z2): 4x2 + 4; p(x|z1): 2x2 + 2 and the log-variance 2.
  EXPECT_EQ(generative, 12 + 6 + 2);
}

config::ExperimentConfig vae2_config(const std::string& yaml) {
  return config::parse_config("model:\n  type: vae2\n" + yaml, "vae2.yaml");
}

TEST(Vae2, ConfigRulesNameTheKey) {
  EXPECT_NO_THROW(vae2_config(""));
  EXPECT_EQ(vae2_config("").model.get<Vae2Config>().kl, "mc");
  auto fails = [](const std::string& yaml, const std::string& key) {
    try {
      vae2_config(yaml);
      ADD_FAILURE() << "accepted: " << yaml;
    } catch (const config::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  fails("  kl: analytic\n", "model.kl");
  fails("  free_bits: 0.5\n", "model.free_bits");
  fails("  top_decoder: {activation: relu}\n", "model.top_decoder.activation");
  fails("  top_latent_dim: 0\n", "top_latent_dim");
  fails("  iwae_gradient: dreg\n", "model.iwae_gradient");
}

TEST(Vae2, ShippedConfigsAreBurdasArchitectureAndRoundTrip) {
  const auto vae2 = config::load_config(std::string(LVM_SOURCE_DIR) + "/configs/vae2_mnist.yaml");
  const auto& c = vae2.model.get<Vae2Config>();
  EXPECT_EQ(c.latent_dim, 100);
  EXPECT_EQ(c.top_latent_dim, 50);
  EXPECT_EQ(c.encoder.hidden, (std::vector<int64_t>{200, 200}));
  EXPECT_EQ(c.top_encoder.hidden, (std::vector<int64_t>{100, 100}));
  EXPECT_EQ(c.top_decoder.hidden, (std::vector<int64_t>{100, 100}));
  EXPECT_EQ(c.decoder.hidden, (std::vector<int64_t>{200, 200}));
  EXPECT_EQ(c.objective, "elbo");
  EXPECT_EQ(config::parse_config(config::to_yaml(vae2), "x"), vae2);
  // The IWAE config is the same experiment trained on L_5.
  const auto iwae2 = config::load_config(std::string(LVM_SOURCE_DIR) + "/configs/iwae2_mnist.yaml");
  EXPECT_EQ(iwae2.model.get<Vae2Config>().objective, "iwae");
  EXPECT_EQ(iwae2.model.get<Vae2Config>().k, 5);
  auto same = vae2;
  same.name = iwae2.name;
  same.model.get<Vae2Config>().objective = "iwae";
  same.model.get<Vae2Config>().k = 5;
  EXPECT_EQ(same, iwae2);
}

TEST(Vae2, ExportMatchesTheNativeModel) {
  testing::TempDir dir;
  for (const char* likelihood : {"bernoulli", "gaussian"}) {
    torch::manual_seed(4);
    Vae2 model(small_options(likelihood));
    const auto path = dir.file(std::string(likelihood) + ".pt");
    // save_module checks every method of the reloaded file against the model before it keeps it.
    ASSERT_NO_THROW(torchscript::save_module(model, {}, path)) << likelihood;
    auto m = torch::jit::load(path);
    torch::NoGradGuard no_grad;
    const auto x = torch::rand({4, 6}).round();
    torch::manual_seed(5);
    const auto exported = m.get_method("log_likelihood")({x, int64_t{200}, int64_t{200}}).toTensor();
    torch::manual_seed(5);
    const auto native = iwae(model, x, 200).value;
    // The same draws (one chunk of all 200): equal to float rounding of a 200-term logsumexp.
    EXPECT_TRUE(torch::allclose(exported, native, 1e-4, 1e-4)) << likelihood;
  }
}

// Flat values of a tensor, for Python to compare against its own result of any shape.
util::Json flat_json(const torch::Tensor& t) {
  auto out = util::Json::array();
  const auto values = t.detach().to(torch::kDouble).flatten().contiguous();
  for (int64_t i = 0; i < values.numel(); ++i) out.push(values[i].item<double>());
  return out;
}

// Python's torch.jit.load, with no lvm code, reproduces the native model: the chained encoding,
// and the importance-sampled log p(x) and prior draws under the same seed (one CPU generator).
TEST(Vae2, PythonLoadsTheExportAndReproducesTheNativeNumbers) {
  const auto python = testing::python_with_torch();
  if (python.empty()) GTEST_SKIP() << "no python3 with torch (scripts/install_deps.sh --python)";
  testing::TempDir dir;
  torch::manual_seed(6);
  Vae2 model(small_options());
  torchscript::save_module(model, {}, dir.file("vae2.pt"));
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({4, 6}).round();
  const int64_t seed = 99;
  auto ref = util::Json::object();
  ref.set("x", flat_json(x)).set("seed", seed).set("encode_mean", flat_json(model.proposal(x)->mean()));
  torch::manual_seed(seed);
  ref.set("log_likelihood", flat_json(iwae(model, x, 50).value));
  torch::manual_seed(seed);
  ref.set("sample_latent", flat_json(model.prior()->sample({4})));
  testing::write_file(dir.file("ref.json"), ref.dump());
  testing::write_file(dir.file("check.py"), R"(import json, sys, torch
m = torch.jit.load(sys.argv[1])
ref = json.load(open(sys.argv[2]))
def same(actual, expected, what, rtol):
    expected = torch.tensor(expected, dtype=torch.float64)
    actual = actual.detach().double().flatten()
    assert torch.allclose(actual, expected, rtol=rtol, atol=1e-6), (what, actual, expected)
x = torch.tensor(ref["x"], dtype=torch.float32).reshape(4, 6)
same(m.encode(x)[0], ref["encode_mean"], "encode", 1e-5)
torch.manual_seed(ref["seed"])
same(m.log_likelihood(x, 50, 50), ref["log_likelihood"], "log_likelihood", 1e-4)
torch.manual_seed(ref["seed"])
same(m.sample_latent(4), ref["sample_latent"], "sample_latent", 1e-5)
print("python: ok", m.model_kind, m.latent_dim)
)");
  const auto checked = testing::run_shell(python + " " + dir.file("check.py") + " " + dir.file("vae2.pt") +
                                          " " + dir.file("ref.json"));
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  EXPECT_NE(checked.output.find("python: ok vae2 5"), std::string::npos) << checked.output;
}

// The lecture's four questions through the same commands as for the VAE: train, evaluate, sample,
// encode and export; a picture that needs a diagonal Gaussian prior is refused by name.
TEST(Vae2, EveryCommandTakesTheTwoLayerModel) {
  testing::TempDir dir;
  testing::write_tiny_mnist(dir.file("data"), 300, 50);
  testing::write_file(
      dir.file("vae2.yaml"),
      "name: tiny2\ndevice: cpu\nthreads: 1\n"
      "model:\n  type: vae2\n  latent_dim: 3\n  top_latent_dim: 2\n"
      "  encoder: {hidden: [16]}\n  top_encoder: {hidden: [8]}\n  top_decoder: {hidden: [8]}\n"
      "  decoder: {hidden: [16]}\n  objective: iwae\n  k: 3\n  iwae_gradient: dreg\n"
      "data:\n  path: " +
          dir.file("data") +
          "\n  validation_size: 100\n"
          "train:\n  epochs: 2\n  batch_size: 50\noutput:\n  progress: none\n  image_every: 0\n");
  const auto run = dir.file("run");
  const auto trained = testing::run_lvm("train " + dir.file("vae2.yaml") + " --run-dir " + run);
  ASSERT_EQ(trained.exit_code, 0) << trained.output;

  const auto evaluated = testing::run_lvm("eval " + run + " --k 20 -o " + dir.file("eval.json"));
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  const auto eval_json = testing::read_file(dir.file("eval.json"));
  EXPECT_NE(eval_json.find("\"latent_dim\": 5"), std::string::npos) << eval_json;
  EXPECT_NE(eval_json.find("\"latent_group_sizes\": [3, 2]"), std::string::npos) << eval_json;
  EXPECT_NE(evaluated.output.find("; z1 "), std::string::npos) << evaluated.output;

  for (const std::string args : {"--n 8", "--reconstruct --n 4", "--interpolate 0 3 --steps 4"}) {
    const auto sampled = testing::run_lvm("sample " + run + " " + args + " -o " + dir.file("s.png"));
    EXPECT_EQ(sampled.exit_code, 0) << args << ": " << sampled.output;
  }
  const auto traverse = testing::run_lvm("sample " + run + " --traverse --index 0 -o " + dir.file("t.png"));
  EXPECT_NE(traverse.exit_code, 0);
  EXPECT_NE(traverse.output.find("not a diagonal Gaussian"), std::string::npos) << traverse.output;

  const auto encoded = testing::run_lvm("encode " + run + " -o " + dir.file("codes.csv"));
  ASSERT_EQ(encoded.exit_code, 0) << encoded.output;
  const auto header = testing::read_file(dir.file("codes.csv")).substr(0, 80);
  EXPECT_EQ(header.rfind("index,label,mean_0,mean_1,mean_2,mean_3,mean_4,log_var_0", 0), 0u) << header;

  // The export checks each method against the native model before it keeps the file.
  const auto exported = testing::run_lvm("export " + run + " -o " + dir.file("vae2.pt"));
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_NE(exported.output.find("methods: encode, decode, log_prior, sample"), std::string::npos)
      << exported.output;
  auto m = torch::jit::load(dir.file("vae2.pt"));
  EXPECT_EQ(m.attr("model_kind").toStringRef(), "vae2");
  torch::NoGradGuard no_grad;
  const auto log_px =
      m.get_method("log_likelihood")({torch::rand({2, 1, 8, 8}).round(), int64_t{10}}).toTensor();
  EXPECT_EQ(log_px.sizes(), (std::vector<int64_t>{2}));
  EXPECT_TRUE((log_px < 0).all().item<bool>());
}

}  // namespace
}  // namespace lvm
