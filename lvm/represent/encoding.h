#pragma once
// Representation, x -> z: the posterior (or its amortised approximation q(z|x)) of each image,
// summarised by its mean and log-variance, for plots and for use downstream (`lvm encode`,
// `lvm sample --latents`); for a discrete latent, the posterior probabilities of its values (a
// Gaussian mixture's responsibilities).

#include <cstdint>
#include <string>

#include <torch/types.h>

#include "lvm/data/dataset.h"
#include "lvm/models/latent_variable_model.h"

namespace lvm::represent {

/// Seed of the one binarisation used for every picture and encoding of dynamically binarised
/// data, so that `lvm encode`, `lvm sample` and the training snapshots show the same pixels.
constexpr int64_t kDisplayBinarizationSeed = 20160010;

/// "train" | "validation" | "test". Throws std::invalid_argument for another name or an empty
/// split (e.g. validation with data.validation_size: 0).
const data::Split& split_by_name(const data::ImageDataset& dataset, const std::string& name);

/// A split's images as a model should see them: binary under static or dynamic binarisation
/// (dynamic: one fixed draw, kDisplayBinarizationSeed), grey levels otherwise. [N, D] -> [N, D]
torch::Tensor model_view(const torch::Tensor& images, data::Binarization binarization);

struct Encoding {
  torch::Tensor mean;     // [N, Z] float, CPU
  torch::Tensor log_var;  // [N, Z] float, CPU
  torch::Tensor labels;   // [N] int64, CPU (empty when none were given)
};

/// q(z|x) of each image, in batches, without gradients. images: [N, D] on the model's device,
/// labels: [N] or undefined. Throws std::invalid_argument when the model has no Gaussian q(z|x).
Encoding encode(LatentVariableModel& model, const torch::Tensor& images, const torch::Tensor& labels,
                int64_t batch_size = 1000);

/// CSV with header index,label,mean_0..mean_{Z-1},log_var_0..log_var_{Z-1}; numbers with 9
/// significant digits (float32 values read back exactly). label is empty when there are none.
std::string encoding_csv(const Encoding& encoding);

/// Whether the model's posterior q(z|x) is over a discrete latent (a Categorical, e.g. a Gaussian
/// mixture's responsibilities), asked of the first example of x [N, D], N >= 1.
bool has_discrete_posterior(LatentVariableModel& model, const torch::Tensor& x);

/// p(z = k | x) of each example of a model with a discrete latent, in batches, without gradients.
struct Responsibilities {
  torch::Tensor probs;   // [N, K] double, CPU; rows sum to 1
  torch::Tensor labels;  // [N] int64, CPU (empty when none were given)
};

/// x: [N, D] on the model's device, labels: [N] or undefined. Throws std::invalid_argument when the
/// model's posterior is not a Categorical.
Responsibilities responsibilities(LatentVariableModel& model, const torch::Tensor& x,
                                  const torch::Tensor& labels, int64_t batch_size = 1000);

/// CSV with header index,label,component,p_0..p_{K-1}: component is the most probable one; 17
/// significant digits (doubles read back exactly). label is empty when there are none (or -1).
std::string responsibilities_csv(const Responsibilities& r);

/// What `lvm encode` writes for `model`: encoding_csv of its Gaussian q(z|x), or
/// responsibilities_csv for a discrete latent.
std::string encode_csv(LatentVariableModel& model, const torch::Tensor& x, const torch::Tensor& labels,
                       int64_t batch_size = 1000);

/// Projection onto the first k principal components (centred; each component's sign chosen so
/// that its largest coefficient is positive, for reproducible plots). x: [N, Z] -> [N, k]
torch::Tensor principal_components(const torch::Tensor& x, int64_t k);

/// KL(q(z_d|x) || p(z_d)) per latent dimension, averaged over the encoded images, for a
/// diagonal Gaussian prior: -> [Z] (double). Throws std::invalid_argument for another prior.
torch::Tensor kl_per_dimension(LatentVariableModel& model, const Encoding& encoding);

}  // namespace lvm::represent
