#pragma once
// Adam whose step is one pass over memory. torch::optim::Adam updates each parameter with about
// eight tensor operations (two for each moment, the square root, the division, the epsilon, the
// update), each a separate pass over the parameter's memory with its own temporaries: for the
// MNIST VAEs that is about a third of a training step. FlatAdam keeps every parameter, gradient
// and moment as a view into one flat buffer each and updates element by element in one loop,
// vectorised (AVX2), on the calling thread: its at::parallel_for splits work only in code built
// with OpenMP, which lvm is not (and on 2 cores LibTorch runs one intra-op thread anyway).
//
// It is a torch::optim::Adam: the moments live in Adam's own state map (as views of the flat
// buffers), so checkpoints (save_adam_state / load_adam_state) and resume are unchanged, and any
// code that holds a torch::optim::Adam& keeps working. Anything that replaces a parameter's, a
// gradient's or a moment's storage (loading a checkpoint, a gradient set to none) is noticed at
// the next step, whose values are copied back into the flat buffers first.
//
// The fused loop runs on CPU float32 parameters without amsgrad; anything else (CUDA, double)
// takes torch::optim::Adam's own step, so the same code runs on every device.

#include <cstdint>
#include <vector>

#include <torch/optim/adam.h>

namespace lvm::train {

struct FlatAdamOptions {
  torch::optim::AdamOptions adam;  // lr, betas, eps, weight_decay (L2, added to the gradient)
  // AdamW (Loshchilov & Hutter 2019): parameters shrink by lr · decoupled_weight_decay each step,
  // apart from the gradient; 0: plain Adam.
  double decoupled_weight_decay = 0;
};

class FlatAdam : public torch::optim::Adam {
 public:
  FlatAdam(const std::vector<torch::Tensor>& parameters, FlatAdamOptions options);

  /// One Adam (or AdamW) step of every parameter.
  torch::Tensor step(LossClosure closure = nullptr) override;

  /// Zeroes all gradients in place (one memset of the flat gradient). Gradients must stay
  /// defined: autograd then accumulates into the flat buffer instead of allocating its own.
  void zero_grad();

  /// All gradients, parameter after parameter: [n_parameters] (the flat buffer, or a copy of the
  /// gradients where the step does not use flat buffers). Undefined gradients read as zeros.
  torch::Tensor flat_gradient();

  /// Makes the gradients equal `flat` [n_parameters], laid out as flat_gradient() (e.g. after
  /// summing it over processes); nothing to copy when `flat` is the flat buffer itself.
  void set_flat_gradient(const torch::Tensor& flat);

  /// sqrt(Σ g²) over all gradients: a 0-d double tensor on the parameters' device (no host sync).
  torch::Tensor gradient_norm();

  /// Scales every gradient by max_norm / (norm + 1e-6) when that is below 1 (clip_grad_norm_'s
  /// rule), given the norm gradient_norm() returned.
  void clip_gradients(double norm, double max_norm);

  /// Whether step() runs the fused loop (CPU float32, no amsgrad) rather than Adam's own.
  bool fused() const { return fused_; }

 private:
  void adopt();          // points parameters, gradients and moments into the flat buffers
  bool adopted() const;  // whether they all still do
  void fused_step();

  double decoupled_weight_decay_;
  bool fused_ = false;
  std::vector<torch::Tensor> parameters_;
  std::vector<int64_t> offsets_;  // parameters_[i] is flat element offsets_[i] onwards
  torch::Tensor flat_parameters_, flat_gradients_, flat_exp_avg_, flat_exp_avg_sq_;  // [n]
};

}  // namespace lvm::train
