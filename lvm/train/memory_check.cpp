#include "lvm/train/memory_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lvm/runtime/memory.h"

namespace lvm::train {
namespace {

// Weights of an MLP in -> hidden... -> out (biases included).
double mlp_weights(int64_t in, const std::vector<int64_t>& hidden, int64_t out) {
  double total = 0;
  int64_t from = in;
  for (const int64_t h : hidden) {
    total += static_cast<double>(from + 1) * static_cast<double>(h);
    from = h;
  }
  return total + static_cast<double>(from + 1) * static_cast<double>(out);
}

}  // namespace

void check_training_memory(const config::ExperimentConfig& config, int64_t data_dim, torch::Device device) {
  if (config.model.type != "vae") return;
  const auto available = runtime::available_memory(device);
  if (!available) return;
  const auto& m = config.model;
  const int64_t decoder_out = m.likelihood == "gaussian" ? 2 * data_dim : data_dim;
  constexpr double kFloat = sizeof(float);
  // Weights, gradients and Adam's two moments.
  const double weights = mlp_weights(data_dim, m.encoder_hidden, 2 * m.latent_dim) +
                         mlp_weights(m.latent_dim, m.decoder_hidden, decoder_out);
  const double weight_bytes = 4 * kFloat * weights;
  if (weight_bytes > static_cast<double>(*available)) {
    throw config::ConfigError(fmt::format(
        "model.encoder_hidden [{}], model.decoder_hidden [{}], model.latent_dim {}: the networks have {:.3g} "
        "weights, about {} with their gradients and Adam's state, more than the {} of memory available",
        fmt::join(m.encoder_hidden, ", "), fmt::join(m.decoder_hidden, ", "), m.latent_dim, weights,
        runtime::format_bytes(weight_bytes), runtime::format_bytes(static_cast<double>(*available))));
  }
  // Activations, saved for the backward pass, and their gradients: about 3x a forward pass.
  const double row_bytes =
      3.0 * static_cast<double>(runtime::mlp_bytes_per_row(data_dim, m.encoder_hidden, 2 * m.latent_dim) +
                                runtime::mlp_bytes_per_row(m.latent_dim, m.decoder_hidden, decoder_out));
  const double rows = static_cast<double>(m.k) * static_cast<double>(config.train.batch_size);
  if (weight_bytes + rows * row_bytes > static_cast<double>(*available)) {
    throw config::ConfigError(fmt::format(
        "model.k {} x train.batch_size {}: one training step runs {:.3g} rows through encoder and decoder, "
        "about {} with autograd's saved activations, more than the {} of memory available; lower "
        "train.batch_size or model.k",
        m.k, config.train.batch_size, rows, runtime::format_bytes(rows * row_bytes),
        runtime::format_bytes(static_cast<double>(*available))));
  }
}

}  // namespace lvm::train
