#pragma once
// The hidden layers of a tanh MLP in evaluation: h ← tanh(h Wᵀ + b) as one matrix product into a
// fresh tensor and one pass that adds the bias and takes tanh in place (AVX2 when the CPU has it),
// instead of Linear's copy of the bias into every row, the product, and a tanh into yet another
// tensor. No autograd.

#include <torch/types.h>

namespace lvm::nn {

/// rows ← tanh(rows + bias), in place: rows CPU float32 contiguous [N, H], bias [H]. Within 4 ulp
/// of tanh (std::tanh where the CPU lacks AVX2).
void bias_tanh_(torch::Tensor& rows, const torch::Tensor& bias);

/// tanh(h Wᵀ + b): h [N, in] CPU float32, weight [out, in], bias [out] -> [N, out].
torch::Tensor linear_tanh(const torch::Tensor& h, const torch::Tensor& weight, const torch::Tensor& bias);

}  // namespace lvm::nn
