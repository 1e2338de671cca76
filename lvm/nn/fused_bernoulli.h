#pragma once
// log p_θ(x|z) for Bernoulli pixels whose logits come out of a final Linear layer, l = h Wᵀ + b,
// computed for evaluation, where it dominates the cost of every estimator. Per sample,
//   Σ_d [x_d l_d − softplus(l_d)] = h·(Wᵀx) + b·x − Σ_d softplus(l_d):
// the data term is a dot product with Wᵀx (computed once per image, not once per sample and
// pixel), and Σ softplus runs over blocks of logits small enough to stay in cache, on CPU in one
// fused vectorised pass. No autograd: callers run it under torch::NoGradGuard.

#include <torch/types.h>

namespace lvm::nn {

/// Σ_d softplus(l_d) = Σ_d log(1 + exp(l_d)) over the last dimension: logits [..., D] -> [...].
/// CPU float32: one fused pass (AVX2 when the CPU has it); elsewhere torch::softplus(l).sum(-1).
torch::Tensor softplus_sum(const torch::Tensor& logits);

namespace detail {
/// The portable (scalar) CPU kernel that softplus_sum falls back to without AVX2; for tests.
/// logits: CPU float32 [N, D] -> [N]
torch::Tensor softplus_sum_portable(const torch::Tensor& logits);
}  // namespace detail

/// logits [..., B, D], x [B, D] (or the logits' shape) -> [..., B]: Σ_d x_d l_d − softplus(l_d)
/// with autograd, for training. Its backward pass is one fused pass, ∂/∂l_d = g·(x_d − σ(l_d)),
/// instead of the half dozen of the plain form; the forward is the softplus_sum kernel. CPU
/// float32 with an x that needs no gradient; anything else takes the plain ATen form.
torch::Tensor bernoulli_log_prob(const torch::Tensor& logits, const torch::Tensor& x);

/// x [B, D], h [K, B, H], weight [D, H], bias [D] -> [K, B]: Σ_d x_d l_d − softplus(l_d) with
/// l = h Wᵀ + b, the Bernoulli log-likelihood of x under the logits l.
torch::Tensor bernoulli_linear_log_likelihood(const torch::Tensor& x, const torch::Tensor& h,
                                              const torch::Tensor& weight, const torch::Tensor& bias);

}  // namespace lvm::nn
