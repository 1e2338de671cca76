#pragma once
// TorchScript export: a trained model as a self-contained TorchScript module that Python
// (torch.jit.load) and C++ (torch::jit::load) run without lvm. The module holds copies of the
// weights, metadata as attributes, and methods compiled from TorchScript source, built from the
// model's parts (LatentVariableModel::script, lvm/export/script_part.h): LibTorch's C++ API
// cannot trace a C++ module.
//
// Every exported module: float inputs batch first, x [B, D] or [B, *input_shape] (flattened);
// floating inputs are cast to the weights' dtype, integer ones refused; every tensor a method
// creates lives on the device of the weights; randomness comes from that device's global
// generator (torch.manual_seed). Attributes: model_kind, latent_dim, data_dim, input_shape,
// binarization, config_yaml, epoch, lvm_version, export_format_version, chunk_elements, and the
// parts' own (a VAE's likelihood and activation). The methods are the model's:
//   a VAE (and any model with an amortised Gaussian q(z|x)): lvm/export/amortised.h
//     encode, decode, decode_logits (Bernoulli), sample, sample_mean, sample_latent,
//     reconstruct, elbo, log_likelihood, forward
//   a Gaussian mixture: GaussianMixture::script (lvm/models/gmm/gaussian_mixture.h)
//     log_prob, component_log_prob, responsibilities, predict, sample, sample_latent, forward

#include <cstdint>
#include <string>
#include <vector>

#include <torch/csrc/jit/api/module.h>

#include "lvm/models/latent_variable_model.h"

namespace lvm::torchscript {

/// Bumped when a method, attribute or weight name changes meaning; stored as
/// `export_format_version`. 2: weights live in the parts' submodules (encoder.w0, not encoder_w0).
constexpr int64_t kExportFormatVersion = 2;
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
/// model with no TorchScript form or metadata that does not fit the model.
torch::jit::Module build_module(LatentVariableModel& model, const ExportMetadata& metadata);

/// The methods build_module defines for `model`, in definition order (public ones only).
std::vector<std::string> exported_methods(LatentVariableModel& model);

/// Builds the module, writes it to a temporary file, loads that back and checks every public
/// method against `model` (ModelScript::verify), and only then renames it over `path`; on any
/// failure `path` is untouched. Throws util::IoError / c10::Error / std::runtime_error naming the path.
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
