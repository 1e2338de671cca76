#pragma once
// TorchScript export: a trained model as a self-contained TorchScript module that Python
// (torch.jit.load) and C++ (torch::jit::load) run without lvm. The module holds copies of the
// weights as parameters, metadata as attributes, and methods compiled from TorchScript source
// generated from the model's architecture (LibTorch's C++ API cannot trace a C++ module).
//
// Methods of an exported VAE (float32, batch first; x is [B, D], or [B, *input_shape], which is
// flattened; floating inputs are cast to the weights' dtype, integer ones refused; every tensor
// a method creates lives on the device of the weights):
//   encode(x) -> (mean, log_var)           q_φ(z|x), each [B, Z]
//   decode(z) -> probs [.., D]              Bernoulli decoder: p_θ(x|z) pixel probabilities
//   decode_logits(z) -> logits [.., D]      (Bernoulli decoder only)
//   decode(z) -> (mean, log_var) [.., D]    Gaussian decoder (log_var is shared, expanded)
//   sample(n) -> x [n, D]                   z ~ p(z), x ~ p_θ(x|z): a draw, binary for Bernoulli
//   sample_mean(n) -> [n, D]                z ~ p(z), E[x|z]
//   sample_latent(n) -> z [n, Z]            z ~ N(0, I)
//   reconstruct(x) -> [B, D]                E[x|z] at z = the posterior mean
//   elbo(x) -> [B]                          one-sample ELBO, analytic KL, nats
//   log_likelihood(x, k, chunk_size=0) -> [B]
//                                           importance-sampled log p(x) with k draws from q(z|x),
//                                           chunk_size draws at a time (0: as many as fit in
//                                           chunk_elements), combined with a streaming logsumexp
//   forward(x) = elbo(x)
// Randomness comes from the global generator of the weights' device (torch.manual_seed).
// Attributes: model_kind, latent_dim, data_dim, input_shape, binarization, likelihood,
// activation, config_yaml, epoch, lvm_version, export_format_version, chunk_elements.
//
// Extension point: a model kind is exported by a builder in torchscript.cpp (see
// build_module). The Gaussian mixture, when it lands, gets its own builder with
// log_prob(x), sample(n), responsibilities(x) and predict(x) plus the shared attributes.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/csrc/jit/api/module.h>

#include "lvm/models/latent_variable_model.h"

namespace lvm::torchscript {

/// Bumped when a method or attribute changes meaning; stored as `export_format_version`.
constexpr int64_t kExportFormatVersion = 1;
/// Default bound on the largest activation tensor log_likelihood builds per chunk (elements).
constexpr int64_t kDefaultChunkElements = int64_t{1} << 22;

/// What the exported file records beside the weights.
struct ExportMetadata {
  std::vector<int64_t> input_shape;   // one example as stored, e.g. {1, 28, 28}; product = data_dim
  std::string binarization = "none";  // data.binarize of the run: how inputs were prepared
  std::string config_yaml;            // the run's resolved config
  int64_t epoch = 0;                  // epochs completed by the exported checkpoint
};

/// Builds the module for `model` (weights copied to the CPU). Throws std::invalid_argument for a
/// model kind with no exporter or metadata that does not fit the model.
torch::jit::Module build_module(LatentVariableModel& model, const ExportMetadata& metadata);

/// The TorchScript source build_module compiles for `model` (for reading and for tests).
std::string module_source(LatentVariableModel& model);

/// The methods build_module defines for `model`, in definition order (public ones only).
std::vector<std::string> exported_methods(LatentVariableModel& model);

/// Builds the module, writes it to a temporary file, loads that back and checks that encode and
/// decode reproduce `model` on a few inputs, and only then renames it over `path`; on any failure
/// `path` is untouched. Throws util::IoError / c10::Error / std::runtime_error naming the path.
void save_module(LatentVariableModel& model, const ExportMetadata& metadata, const std::string& path);

struct ExportResult {
  std::string checkpoint_path;
  int64_t epoch = 0;
  int64_t parameters = 0;  // number of weights
  std::vector<std::string> methods;
  std::uintmax_t bytes = 0;  // size of the written file
};

/// `lvm export`: loads the run (train::load_run) and saves its model to `output`.
ExportResult export_run(const std::string& run_dir, const std::string& checkpoint, const std::string& output);

}  // namespace lvm::torchscript
