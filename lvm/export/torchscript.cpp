#include "lvm/export/torchscript.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "lvm/config/config.h"
#include "lvm/models/vae/vae.h"
#include "lvm/train/run_dir.h"
#include "lvm/util/files.h"

namespace lvm::torchscript {
namespace {

namespace fs = std::filesystem;

// log(2π) as the nearest double, the same constant lvm/distributions/normal.cpp uses.
const char* const kLog2Pi = "1.8378770664093456";

// What exporting one model kind takes: its weights, its method source and public method names,
// the attributes only it has, and a check of a saved-and-reloaded module against the model.
struct KindExport {
  std::string class_name;
  std::string kind;
  std::vector<std::pair<std::string, torch::Tensor>> parameters;
  std::vector<std::pair<std::string, int64_t>> int_attributes;
  std::vector<std::pair<std::string, std::string>> string_attributes;
  std::string source;
  std::vector<std::string> methods;
  std::function<void(torch::jit::Module&)> verify;
};

// The Linear layers of an MLP, in order.
std::vector<torch::nn::LinearImpl*> linear_layers(torch::nn::Module& module) {
  std::vector<torch::nn::LinearImpl*> out;
  for (const auto& child : module.modules(/*include_self=*/false)) {
    if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(child.get())) out.push_back(linear);
  }
  return out;
}

std::string activation_call(const std::string& activation, const std::string& argument) {
  // Defaults of these ATen ops are those of torch::nn::{Tanh, ReLU, ELU, Softplus}.
  if (activation == "tanh") return "torch.tanh(" + argument + ")";
  if (activation == "relu") return "torch.relu(" + argument + ")";
  if (activation == "elu") return "torch.elu(" + argument + ")";
  if (activation == "softplus") return "torch.softplus(" + argument + ")";
  throw std::invalid_argument("export: no TorchScript for activation '" + activation + "'");
}

// An MLP as one TorchScript method `_<name>_net` over parameters <name>_w<i>, <name>_b<i>.
std::string mlp_method(const std::string& name, torch::nn::Module& net, const std::string& activation,
                       KindExport& out) {
  const auto layers = linear_layers(net);
  std::ostringstream src;
  src << "def _" << name << "_net(self, h: Tensor) -> Tensor:\n";
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string w = fmt::format("{}_w{}", name, i), b = fmt::format("{}_b{}", name, i);
    out.parameters.emplace_back(w, layers[i]->weight);
    out.parameters.emplace_back(b, layers[i]->bias);
    const std::string linear = fmt::format("torch.linear(h, self.{}, self.{})", w, b);
    if (i + 1 < layers.size()) {
      src << "    h = " << activation_call(activation, linear) << "\n";
    } else {
      src << "    return " << linear << "\n";
    }
  }
  return src.str();
}

// Methods every exported model with an x of data_dim features shares.
std::string input_check_methods() {
  return R"(
def _check_x(self, x: Tensor) -> Tensor:
    if x.dim() > 2:
        x = x.flatten(1)
    assert x.dim() == 2 and x.size(1) == self.data_dim, "expected x of shape [B, " + str(self.data_dim) + "] or [B, *input_shape], got " + str(x.shape)
    assert x.is_floating_point(), "expected floating-point x, got dtype " + str(x.dtype)
    return x.to(self.encoder_w0.dtype)
)";
}

// The TorchScript source of a VAE: one method per network, densities written out the way
// lvm/distributions computes them (so results agree to rounding), and the public methods.
KindExport vae_export(Vae& vae) {
  const auto& options = vae.options();
  const bool bernoulli = options.likelihood() == "bernoulli";
  if (!bernoulli && options.likelihood() != "gaussian")
    throw std::invalid_argument("export: no TorchScript for likelihood '" + options.likelihood() + "'");

  KindExport out;
  out.class_name = "__torch__.lvm.ExportedVae";
  out.kind = "vae";
  std::string src = mlp_method("encoder", *vae.encoder(), options.activation(), out) + "\n" +
                    mlp_method("decoder", *vae.decoder(), options.activation(), out);
  if (!bernoulli) {
    auto gaussian = std::dynamic_pointer_cast<nn::GaussianDecoderImpl>(vae.decoder());
    TORCH_CHECK(gaussian != nullptr, "export: a Gaussian VAE without a GaussianDecoder");
    out.parameters.emplace_back("decoder_log_var", gaussian->log_var());
  }
  int64_t max_width = std::max(options.data_dim(), 2 * options.latent_dim());
  for (int64_t h : options.encoder_hidden()) max_width = std::max(max_width, h);
  for (int64_t h : options.decoder_hidden()) max_width = std::max(max_width, h);
  out.int_attributes = {
      {"latent_dim", options.latent_dim()}, {"data_dim", options.data_dim()}, {"max_width", max_width}};
  out.string_attributes = {{"likelihood", options.likelihood()}, {"activation", options.activation()}};

  src += input_check_methods();
  src += R"(
def _check_z(self, z: Tensor) -> Tensor:
    assert z.dim() >= 1 and z.size(-1) == self.latent_dim, "expected z of shape [..., " + str(self.latent_dim) + "], got " + str(z.shape)
    return z.to(self.encoder_w0.dtype)

def _encode(self, x: Tensor) -> Tuple[Tensor, Tensor]:
    parts = self._encoder_net(x).chunk(2, -1)
    return parts[0], parts[1]

def _log_prior(self, z: Tensor) -> Tensor:
    return -0.5 * (z.pow(2) + LOG2PI).sum(-1)

def _log_q(self, z: Tensor, mean: Tensor, log_var: Tensor) -> Tensor:
    return -0.5 * ((z - mean).pow(2) * torch.exp(-log_var) + log_var + LOG2PI).sum(-1)

def encode(self, x: Tensor) -> Tuple[Tensor, Tensor]:
    return self._encode(self._check_x(x))

def sample_latent(self, n: int) -> Tensor:
    assert n >= 0, "expected n >= 0, got " + str(n)
    w = self.encoder_w0
    return torch.randn([n, self.latent_dim], dtype=w.dtype, device=w.device)

def elbo(self, x: Tensor) -> Tensor:
    x = self._check_x(x)
    mean, log_var = self._encode(x)
    eps = torch.randn([1, mean.size(0), mean.size(1)], dtype=mean.dtype, device=mean.device)
    z = mean + eps * torch.exp(0.5 * log_var)
    rec = self._log_px_given_z(x, z).mean(0)
    kl = 0.5 * (torch.exp(log_var) + mean.pow(2) - 1.0 - log_var).sum(-1)
    return rec - kl

def log_likelihood(self, x: Tensor, k: int, chunk_size: int = 0) -> Tensor:
    assert k >= 1, "log_likelihood: expected k >= 1, got " + str(k)
    assert chunk_size >= 0, "log_likelihood: expected chunk_size >= 0, got " + str(chunk_size)
    x = self._check_x(x)
    mean, log_var = self._encode(x)
    std = torch.exp(0.5 * log_var)
    b = x.size(0)
    chunk = chunk_size
    if chunk == 0:
        chunk = max(1, self.chunk_elements // max(1, b * self.max_width))
    chunk = min(chunk, k)
    total = torch.full([b], float("-inf"), dtype=mean.dtype, device=mean.device)
    done = 0
    while done < k:
        s = min(chunk, k - done)
        eps = torch.randn([s, b, self.latent_dim], dtype=mean.dtype, device=mean.device)
        z = mean + eps * std
        log_w = (self._log_prior(z) + self._log_px_given_z(x, z)) - self._log_q(z, mean, log_var)
        total = torch.logaddexp(total, torch.logsumexp(log_w, 0))
        done += s
    return total - torch.log(k)

def forward(self, x: Tensor) -> Tensor:
    return self.elbo(x)
)";
  if (bernoulli) {
    src += R"(
def _log_px_given_z(self, x: Tensor, z: Tensor) -> Tensor:
    logits = self._decoder_net(z)
    return (x * logits - torch.softplus(logits)).sum(-1)

def decode_logits(self, z: Tensor) -> Tensor:
    return self._decoder_net(self._check_z(z))

def decode(self, z: Tensor) -> Tensor:
    return torch.sigmoid(self.decode_logits(z))

def sample(self, n: int) -> Tensor:
    return torch.bernoulli(torch.sigmoid(self._decoder_net(self.sample_latent(n))))

def sample_mean(self, n: int) -> Tensor:
    return torch.sigmoid(self._decoder_net(self.sample_latent(n)))

def reconstruct(self, x: Tensor) -> Tensor:
    mean, log_var = self.encode(x)
    return torch.sigmoid(self._decoder_net(mean))
)";
  } else {
    src += R"(
def _log_px_given_z(self, x: Tensor, z: Tensor) -> Tensor:
    mean = self._decoder_net(z)
    log_var = self.decoder_log_var
    return -0.5 * ((x - mean).pow(2) * torch.exp(-log_var) + log_var + LOG2PI).sum(-1)

def decode(self, z: Tensor) -> Tuple[Tensor, Tensor]:
    mean = self._decoder_net(self._check_z(z))
    return mean, self.decoder_log_var.expand_as(mean)

def sample(self, n: int) -> Tensor:
    mean = self._decoder_net(self.sample_latent(n))
    eps = torch.randn(mean.shape, dtype=mean.dtype, device=mean.device)
    return mean + eps * torch.exp(0.5 * self.decoder_log_var)

def sample_mean(self, n: int) -> Tensor:
    return self._decoder_net(self.sample_latent(n))

def reconstruct(self, x: Tensor) -> Tensor:
    mean, log_var = self.encode(x)
    return self._decoder_net(mean)
)";
  }
  // One constant, spelled once.
  for (size_t at = src.find("LOG2PI"); at != std::string::npos; at = src.find("LOG2PI", at))
    src.replace(at, 6, kLog2Pi);
  out.source = src;
  out.methods = {"encode", "decode"};
  if (bernoulli) out.methods.push_back("decode_logits");
  for (const char* m :
       {"sample", "sample_mean", "sample_latent", "reconstruct", "elbo", "log_likelihood", "forward"})
    out.methods.push_back(m);

  // The reloaded module must reproduce the deterministic methods on a few fixed inputs.
  out.verify = [&vae, bernoulli](torch::jit::Module& module) {
    torch::NoGradGuard no_grad;
    const auto options = vae.encoder()->parameters().front().options();
    const int64_t d = vae.data_dim(), z_dim = vae.latent_dim();
    const auto x = torch::linspace(0, 1, 3 * d, options).reshape({3, d});
    const auto z = torch::linspace(-2, 2, 3 * z_dim, options).reshape({3, z_dim});
    const Normal q = vae.encode(x);
    const auto encoded = module.get_method("encode")({x}).toTuple();
    const auto decoded = module.get_method("decode")({z});
    const auto expected_decoded = vae.likelihood(z)->mean();
    const bool ok =
        torch::allclose(encoded->elements()[0].toTensor(), q.mean(), 1e-5, 1e-6) &&
        torch::allclose(encoded->elements()[1].toTensor(), q.log_var(), 1e-5, 1e-6) &&
        torch::allclose(bernoulli ? decoded.toTensor() : decoded.toTuple()->elements()[0].toTensor(),
                        expected_decoded, 1e-5, 1e-6);
    if (!ok) throw std::runtime_error("the reloaded module does not reproduce the model's encode/decode");
  };
  return out;
}

// The extension point: one builder per exportable model kind.
KindExport kind_export(LatentVariableModel& model) {
  if (auto* vae = dynamic_cast<Vae*>(&model)) return vae_export(*vae);
  throw std::invalid_argument("export: no TorchScript exporter for model kind '" + model.kind() +
                              "' (add one in lvm/export/torchscript.cpp)");
}

torch::jit::Module build(LatentVariableModel& model, const ExportMetadata& metadata, KindExport& spec) {
  std::vector<int64_t> input_shape = metadata.input_shape;
  if (input_shape.empty()) input_shape = {model.data_dim()};
  const int64_t product =
      std::accumulate(input_shape.begin(), input_shape.end(), int64_t{1}, std::multiplies<>());
  if (product != model.data_dim()) {
    throw std::invalid_argument(
        fmt::format("export: input shape [{}] has {} elements but the model's data_dim is {}",
                    fmt::join(input_shape, ", "), product, model.data_dim()));
  }

  torch::jit::Module module{c10::QualifiedName(spec.class_name)};
  for (const auto& [name, value] : spec.parameters) {
    // A copy on the CPU, so the file never aliases the live model; loaders pick the device.
    module.register_parameter(name, value.detach().to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true),
                              /*is_buffer=*/false);
  }
  for (const auto& [name, value] : spec.int_attributes)
    module.register_attribute(name, c10::IntType::get(), value);
  for (const auto& [name, value] : spec.string_attributes)
    module.register_attribute(name, c10::StringType::get(), value);
  module.register_attribute("model_kind", c10::StringType::get(), spec.kind);
  module.register_attribute("input_shape", c10::ListType::ofInts(), c10::List<int64_t>(input_shape));
  module.register_attribute("binarization", c10::StringType::get(), metadata.binarization);
  module.register_attribute("config_yaml", c10::StringType::get(), metadata.config_yaml);
  module.register_attribute("epoch", c10::IntType::get(), metadata.epoch);
  module.register_attribute("lvm_version", c10::StringType::get(), std::string(LVM_VERSION));
  module.register_attribute("export_format_version", c10::IntType::get(), kExportFormatVersion);
  module.register_attribute("chunk_elements", c10::IntType::get(), kDefaultChunkElements);
  module.define(spec.source);
  module.eval();
  return module;
}

}  // namespace

torch::jit::Module build_module(LatentVariableModel& model, const ExportMetadata& metadata) {
  auto spec = kind_export(model);
  return build(model, metadata, spec);
}

std::string module_source(LatentVariableModel& model) { return kind_export(model).source; }

std::vector<std::string> exported_methods(LatentVariableModel& model) { return kind_export(model).methods; }

void save_module(LatentVariableModel& model, const ExportMetadata& metadata, const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw std::invalid_argument(path + ": is a directory, not an output file");
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw std::invalid_argument(path + ": directory " + parent.string() + " does not exist");

  auto spec = kind_export(model);
  auto module = build(model, metadata, spec);
  // Serialised in memory and written by util, which checks every write (a full disk must fail the
  // export, not leave a short file behind).
  std::ostringstream bytes;
  try {
    module.save(bytes);
  } catch (const c10::Error& e) {
    throw util::IoError(path + ": cannot write the TorchScript module: " + e.what_without_backtrace());
  }
  util::replace_file_atomic(path, [&](const std::string& tmp) {
    util::write_whole_file(tmp, bytes.str(), path);
    auto reloaded = torch::jit::load(tmp, model.parameters().front().device());
    try {
      spec.verify(reloaded);
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": export check failed, file not written: " + e.what());
    }
  });
}

ExportResult export_run(const std::string& run_dir, const std::string& checkpoint,
                        const std::string& output) {
  const auto run = train::load_run(run_dir, checkpoint, torch::kCPU);
  ExportMetadata metadata;
  metadata.input_shape = run.state.data_shape;
  metadata.binarization = run.config.data.binarize;
  metadata.config_yaml = config::to_yaml(run.config);
  metadata.epoch = run.state.epoch;
  save_module(*run.model, metadata, output);

  ExportResult result;
  result.checkpoint_path = run.checkpoint_path;
  result.epoch = run.state.epoch;
  for (const auto& p : run.model->parameters()) result.parameters += p.numel();
  result.methods = exported_methods(*run.model);
  result.bytes = fs::file_size(output);
  return result;
}

}  // namespace lvm::torchscript
