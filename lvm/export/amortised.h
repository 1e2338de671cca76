#pragma once
// The exported module of any model p(z) p_θ(x|z) with an amortised diagonal Gaussian q_φ(z|x)
// (a VAE and its variants), composed from its three parts: a model made of parts that script
// themselves (lvm/export/script_part.h) needs no export code of its own.
//
// Public methods (x [B, D] or [B, *input_shape]; z [.., Z]):
//   encode(x) -> (mean, log_var) [B, Z]     q_φ(z|x)
//   <the decoder's facade>                  e.g. decode(z), decode_logits(z)
//   sample(n) -> x [n, D]                   z ~ p(z), x ~ p_θ(x|z)
//   sample_mean(n) -> [n, D]                z ~ p(z), E[x|z]
//   sample_latent(n) -> z [n, Z]            z ~ p(z)
//   reconstruct(x) -> [B, D]                E[x|z] at z = the posterior mean
//   elbo(x) -> [B]                          one-sample ELBO with the prior's closed-form KL
//   log_likelihood(x, k, chunk_size=0) -> [B]
//                                           importance-sampled log p(x), k draws from q(z|x),
//                                           chunk_size at a time (0: as many as fit in
//                                           chunk_elements), combined by a streaming logsumexp
//   forward(x) = elbo(x)

#include "lvm/export/script_part.h"
#include "lvm/models/latent_variable_model.h"

namespace lvm::torchscript {

/// `model` must outlive the returned script (its verify compares with the live model).
ModelScript amortised_model_script(LatentVariableModel& model, const std::string& class_name,
                                   ScriptedPart encoder, ScriptedPart decoder, ScriptedPart prior);

}  // namespace lvm::torchscript
