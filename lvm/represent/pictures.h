#pragma once
// Pictures of a trained model, z -> x: samples from the prior, reconstructions, paths between
// two codes, latent traversals, the decoded 2-D manifold, and the points of a latent scatter
// plot. Each returns images as a batch [N, D] in [0, 1] (the means of p(x|z), or draws from it
// with `binary`), in the order a grid shows them; laying them out and writing files is the
// caller's (`lvm sample`). Random draws use torch's global generator: seed it for repeatable
// pictures. No gradients are recorded.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "lvm/distributions/normal.h"
#include "lvm/models/latent_variable_model.h"

namespace lvm::represent {

// ---- Pure helpers on codes ----

/// Straight line from a to b: a, b [Z], t [S] -> [S, Z], row s = (1 - t_s) a + t_s b.
torch::Tensor linear_path(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& t);

/// Spherical interpolation on the angle ω between the directions of a and b:
/// (sin((1 - t) ω) a + sin(t ω) b) / sin ω. a, b [Z], t [S] -> [S, Z]. Equals a at t = 0 and b at
/// t = 1; for |a| = |b| every point keeps that norm. Falls back to linear_path() when a and b are
/// (anti)parallel (sin ω <= 1e-6), where the plane of rotation is undefined.
torch::Tensor spherical_path(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& t);

/// Quantiles of N(0, 1) at the cell centres (i + 1/2) / steps, i = 0..steps-1: -> [steps],
/// increasing, symmetric about 0 (0 in the middle for odd steps).
torch::Tensor normal_quantile_grid(int64_t steps, const torch::TensorOptions& options = {});

/// Codes of the manifold grid over a 2-D diagonal Gaussian prior (mean, stddev broadcastable to
/// [2]): -> [steps * steps, 2] in row-major order from the top-left cell, z_0 growing left to right
/// and z_1 bottom to top (as on a plot); cell (r, c) is mean + stddev * (q_c, q_{steps-1-r}) with
/// q = normal_quantile_grid(steps). Throws std::invalid_argument unless the prior is 2-D, steps >= 2.
torch::Tensor manifold_codes(const Normal& prior, int64_t steps);

/// A code swept along one dimension: code [Z], offsets [S] -> [S, Z], row s = code with
/// code[dim] + offsets[s]. Throws std::invalid_argument for a dim outside [0, Z).
torch::Tensor sweep_dimension(const torch::Tensor& code, int64_t dim, const torch::Tensor& offsets);

// ---- Model-level pieces ----

/// z [N, Z] -> images [N, D]: the means of p(x|z), or draws from it with `binary`.
torch::Tensor decode(LatentVariableModel& model, const torch::Tensor& z, bool binary = false);

/// The means of q(z|x): images [N, D] -> [N, Z]. Throws std::invalid_argument ("this KIND model
/// has no q(z|x) to encode images with") when the model has no proposal.
torch::Tensor posterior_means(LatentVariableModel& model, const torch::Tensor& images);

// ---- One function per picture ----

/// n decoded draws z ~ p(z): -> [n, D].
torch::Tensor prior_samples(LatentVariableModel& model, int64_t n, bool binary = false);

/// Draws (z, x) from a model of vectors, for plots and files of points.
struct PointSamples {
  torch::Tensor points;  // x: [n, D] double, CPU
  torch::Tensor latent;  // z: [n] int64 for a discrete latent (a mixture's component), else [n, Z]
};

/// n draws z ~ p(z), x ~ p(x|z).
PointSamples prior_points(LatentVariableModel& model, int64_t n);

/// CSV with header index,component,x_0..x_{D-1} for a discrete latent (index,x_0.. otherwise);
/// 17 significant digits.
std::string points_csv(const PointSamples& samples);

/// Reconstructions of images [N, D] through the posterior means: -> [N, D].
torch::Tensor reconstructions(LatentVariableModel& model, const torch::Tensor& images, bool binary = false);

struct InterpolationOptions {
  int64_t steps = 10;  // decoded points on the path, >= 2 (both ends included)
  bool spherical = false;
  bool binary = false;
};

/// The row of an interpolation between two images a, b [D]: image a, the decoded path between
/// their posterior means (linear_path, or spherical_path with `spherical`), image b: -> [steps + 2, D].
torch::Tensor interpolation(LatentVariableModel& model, const torch::Tensor& a, const torch::Tensor& b,
                            const InterpolationOptions& options);

struct TraversalOptions {
  int64_t steps = 11;        // points per dimension, >= 2
  double range = 3.0;        // sweep from -range to +range prior standard deviations, > 0
  int64_t dims = 0;          // rows: the dims dimensions of highest KL (0 or more than Z: all)
  int64_t kl_images = 1000;  // the first kl_images images order the dimensions
  bool binary = false;
};

struct Traversal {
  torch::Tensor images;       // [rows * steps, D]: one row per dimension, -range σ to +range σ
  std::vector<int64_t> dims;  // [rows]: the dimension each row sweeps, by decreasing KL
  torch::Tensor kl;           // [Z] double: KL(q(z_d|x) || p(z_d)) averaged over the images used
  int64_t kl_images = 0;      // how many images that was
};

/// Each latent dimension swept around the posterior mean of `code_image` [D], in steps of the
/// prior's standard deviation along that dimension; rows ordered by how much the encoder uses the
/// dimension (KL over the first kl_images of `images` [N, D]). Throws std::invalid_argument
/// ("--traverse needs a Gaussian prior p(z); ...") when p(z) is not a diagonal Gaussian.
Traversal traversal(LatentVariableModel& model, const torch::Tensor& images, const torch::Tensor& code_image,
                    const TraversalOptions& options);

/// The decoded manifold_codes() grid of the prior: -> [steps * steps, D], row-major from the top
/// left. Throws std::invalid_argument for a latent space that is not 2-D, or ("--manifold needs a
/// Gaussian prior p(z); ...") a prior that is not a diagonal Gaussian.
torch::Tensor manifold(LatentVariableModel& model, int64_t steps, bool binary = false);

struct LatentPoints {
  torch::Tensor points;    // [N, 2] float, CPU: the posterior means, or their first two principal components
  torch::Tensor labels;    // [N] int64, CPU (empty when none were given)
  bool projected = false;  // whether points are principal components (Z > 2)
};

/// Points of a latent scatter plot of images [N, D] with labels [N] (or undefined). Throws
/// std::invalid_argument for a latent space of fewer than 2 dimensions.
LatentPoints latent_points(LatentVariableModel& model, const torch::Tensor& images,
                           const torch::Tensor& labels);

}  // namespace lvm::represent
