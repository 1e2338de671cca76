#pragma once
// ELBO of a model on a whole split, in batches, without gradients: what the trainer reports for
// validation and test.

#include <cstdint>

#include <torch/types.h>

#include "lvm/models/latent_variable_model.h"

namespace lvm::train {

struct ElboSummary {
  double elbo = 0, kl = 0, rec = 0;  // means over examples, nats
  double elbo_std_error = 0;
  int64_t n = 0;
};

/// images: [N, D] already binarised as they should be seen; single-sample ELBO with analytic KL.
ElboSummary evaluate_elbo(LatentVariableModel& model, const torch::Tensor& images, int64_t batch_size);

}  // namespace lvm::train
