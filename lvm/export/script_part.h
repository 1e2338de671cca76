#pragma once
// Export built from parts. An exported model (lvm/export/torchscript.h) is a TorchScript module
// whose parts (an encoder, a decoder, a prior) are scripted submodules: each holds copies of its
// own weights and the methods of its role's contract, and the model's module adds methods over
// them (self.encoder.forward(x), self.decoder.log_prob(x, z), ...). A model made of parts that
// already script themselves needs no export code of its own: it hands its parts to a composer
// such as amortised_model_script (lvm/export/amortised.h).
//
// Role contracts (float, batch first; Z latent, D data dimensions):
//   proposal  forward(x [B, D]) -> (mean, log_var) [B, Z], a diagonal Gaussian q(z|x)
//   decoder   params(z [.., Z]) -> [.., D], the network's output (logits, or a mean)
//             log_prob(x [B, D], z [S, B, Z]) -> [S, B], log p(x|z)
//             mean(z [.., Z]) -> [.., D], E[x|z];  sample(z [.., Z]) -> [.., D], a draw
//   prior     log_prob(z [.., Z]) -> [..];  sample(n) -> [n, Z]
//             kl(mean, log_var [B, Z]) -> [B], KL(q || p) for a diagonal Gaussian q

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <torch/csrc/jit/api/module.h>
#include <torch/types.h>

namespace lvm::torchscript {

/// One part as it appears in the exported module.
struct ScriptedPart {
  torch::jit::Module module;
  /// Public methods the part adds to the model that owns it, written over `self.<role>` and the
  /// owner's input checks (_check_x, _check_z); e.g. a Bernoulli decoder's decode_logits.
  std::string facade_source;
  std::vector<std::string> facade_methods;
  /// Attributes the part adds to the owner (e.g. likelihood: bernoulli).
  std::vector<std::pair<std::string, std::string>> string_attributes;
  /// Widest activation one row of input makes, for sizing chunks of samples.
  int64_t max_width = 0;
};

/// A whole model as it appears in the exported module, before the run's metadata: what
/// LatentVariableModel::script() returns and lvm/export/torchscript.h writes.
struct ModelScript {
  std::string class_name;                // under __torch__.lvm, e.g. "ExportedVae"
  torch::Dtype dtype = torch::kFloat32;  // of the weights: the module's `reference` buffer
  /// Submodules by role ("encoder", "decoder", "prior"), registered before `source` is compiled.
  std::vector<std::pair<std::string, ScriptedPart>> parts;
  std::vector<std::pair<std::string, int64_t>> int_attributes;
  std::vector<std::pair<std::string, std::string>> string_attributes;
  /// The model's own methods; the parts' facades are added to it.
  std::string source;
  /// The public methods, in definition order (facades included).
  std::vector<std::string> methods;
  /// Checks a saved-and-reloaded module against the native model, every public method (random
  /// ones under the same seed); throws std::runtime_error naming the first that differs.
  std::function<void(torch::jit::Module&)> verify;
};

/// Input checks every model of x [B, D] shares, over attributes data_dim, latent_dim and the
/// `reference` buffer: _check_x(x) flattens [B, *input_shape] to [B, D] and casts floating x to
/// the weights' dtype (integer x is refused); _check_z(z) checks [..., Z] and casts likewise.
std::string input_check_methods();

/// A fresh scripted submodule of `class_name` (e.g. "MlpGaussianEncoder", placed under
/// __torch__.lvm); its methods are added with define().
torch::jit::Module new_part_module(const std::string& class_name);

/// Registers a copy of `value` on the CPU as a parameter of `module`, so that the file never
/// aliases the live model (loaders choose the device).
void add_weight(torch::jit::Module& module, const std::string& name, const torch::Tensor& value);

/// Registers `reference`, an empty tensor of `dtype` that follows the module across devices and
/// dtypes: what methods that create tensors from nothing (a draw from the prior) take them from.
void add_reference(torch::jit::Module& module, torch::Dtype dtype);

/// The TorchScript call of an activation of lvm/nn/mlp.h on `argument`.
std::string activation_call(const std::string& activation, const std::string& argument);

/// Methods of the diagonal Gaussian, the same arithmetic as lvm/distributions/normal.cpp so that
/// results agree to rounding:
///   _normal_log_prob(x, mean, log_var) -> summed over the last dimension
///   _normal_rsample(mean, log_var, s)  -> [s, *mean.shape]
std::string normal_methods();

/// log_likelihood(x, k, chunk_size=0) -> [B]: the importance-sampled log p(x) of a model whose
/// proposal starts from (mean, log_var) = self.encoder.forward(x), over the owner's
/// _log_weights(x, mean, log_var, s) -> [s, B] (s fresh draws each), chunk_size draws at a time
/// (0: as many as fit in chunk_elements), combined by a streaming logsumexp.
std::string importance_sampling_methods();

/// Methods of the Bernoulli over pixels with logits: _bernoulli_log_prob(x, logits) -> summed.
std::string bernoulli_methods();

/// Replaces each LOG2PI in `source` by log(2π) as the nearest double (lvm/distributions' value).
std::string with_constants(std::string source);

/// N(0, I) over `latent_dim` dimensions as a prior part, in `dtype`.
ScriptedPart standard_normal_prior_script(int64_t latent_dim, torch::Dtype dtype);

}  // namespace lvm::torchscript
