#pragma once
// Multi-layer perceptron: Linear -> activation for each hidden layer, then a final Linear with no
// activation.

#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace torch::jit {
struct Module;
}

namespace lvm::nn {

struct MlpOptions {
  MlpOptions(int64_t input_dim, std::vector<int64_t> hidden, int64_t output_dim)
      : input_dim_(input_dim), hidden_(std::move(hidden)), output_dim_(output_dim) {}
  TORCH_ARG(int64_t, input_dim);
  TORCH_ARG(std::vector<int64_t>, hidden);
  TORCH_ARG(int64_t, output_dim);
  /// tanh | relu | elu | softplus
  TORCH_ARG(std::string, activation) = "tanh";
};

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const MlpOptions& options);
  /// x: [..., input_dim] -> [..., output_dim]
  torch::Tensor forward(const torch::Tensor& x);
  /// forward(x) with every weight detached: gradients reach x but not the weights (the
  /// stop-gradient that DReG puts on a proposal's parameters).
  torch::Tensor forward_with_stopped_weights(const torch::Tensor& x);
  /// Every layer but the final Linear: x [..., input_dim] -> [..., last hidden width] (x itself when
  /// there are no hidden layers). forward(x) == output_layer()(hidden(x)). Without autograd, tanh
  /// layers on CPU float take the fused form of lvm/nn/fused_tanh.h (equal within float rounding).
  torch::Tensor hidden(const torch::Tensor& x);
  /// The final Linear layer (weight [output_dim, last hidden width]).
  torch::nn::Linear& output_layer() { return output_; }
  const MlpOptions& options() const { return options_; }
  /// Adds the MLP to an exported part (lvm/export/script_part.h): registers copies of its weights
  /// as w0, b0, w1, ... and returns the source of `_net(self, h: Tensor) -> Tensor`, forward().
  std::string script_into(torch::jit::Module& module);
  /// The widest layer (input, hidden or output): activations per row of input.
  int64_t max_width() const;

 private:
  torch::Tensor fused_tanh_hidden(const torch::Tensor& x);
  MlpOptions options_;
  torch::nn::Sequential layers_;
  torch::nn::Linear output_{nullptr};
};
TORCH_MODULE(Mlp);

/// Throws std::invalid_argument for unknown names.
void check_activation(const std::string& name);

}  // namespace lvm::nn
