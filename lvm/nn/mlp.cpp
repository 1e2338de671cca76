#include "lvm/nn/mlp.h"

#include <stdexcept>

#include <torch/torch.h>

namespace lvm::nn {

void check_activation(const std::string& name) {
  if (name != "tanh" && name != "relu" && name != "elu" && name != "softplus") {
    throw std::invalid_argument("unknown activation '" + name + "' (expected tanh, relu, elu or softplus)");
  }
}

namespace {
torch::nn::AnyModule make_activation(const std::string& name) {
  if (name == "tanh") return torch::nn::AnyModule(torch::nn::Tanh());
  if (name == "relu") return torch::nn::AnyModule(torch::nn::ReLU());
  if (name == "elu") return torch::nn::AnyModule(torch::nn::ELU());
  check_activation(name);
  return torch::nn::AnyModule(torch::nn::Softplus());
}
}  // namespace

MlpImpl::MlpImpl(const MlpOptions& options) : options_(options) {
  check_activation(options.activation());
  int64_t width = options.input_dim();
  for (int64_t h : options.hidden()) {
    layers_->push_back(torch::nn::Linear(width, h));
    layers_->push_back(make_activation(options.activation()));
    width = h;
  }
  output_ = torch::nn::Linear(width, options.output_dim());
  layers_->push_back(output_);
  register_module("layers", layers_);
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) { return layers_->forward(x); }

torch::Tensor MlpImpl::hidden(const torch::Tensor& x) {
  torch::Tensor h = x;
  auto layer = layers_->begin();
  for (size_t i = 0; i + 1 < layers_->size(); ++i, ++layer) h = layer->forward(h);
  return h;
}

}  // namespace lvm::nn
