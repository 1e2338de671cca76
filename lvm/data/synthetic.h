#pragma once
// Seeded two-dimensional test sets for mixtures and density models. Points are float64 [n, 2] on
// the CPU; the same (name, n, noise, seed) always gives the same points.
//   ring      8 isotropic Gaussians of standard deviation `noise`, centred evenly on a circle of
//             radius 2 (each point picks one of the 8 uniformly)
//   circles   two concentric circles of radii 1 and 0.5 (each point picks one with probability
//             1/2, its angle uniformly), plus isotropic Gaussian noise of standard deviation `noise`
//   pinwheel  5 curved arms (Johnson et al. 2016): a radial offset 1 + N(0, 0.3²) and a
//             tangential offset N(0, noise²), rotated by the arm's angle + 0.25·exp(radial)

#include <cstdint>
#include <string>

#include <torch/types.h>

namespace lvm::data {

/// Throws std::invalid_argument for an unknown name, n < 0 or noise < 0.
torch::Tensor make_synthetic(const std::string& name, int64_t n, double noise, uint64_t seed);

}  // namespace lvm::data
