#include "lvm/nn/mlp.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "lvm/export/script_part.h"
#include "lvm/nn/fused_tanh.h"

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

torch::Tensor MlpImpl::forward_with_stopped_weights(const torch::Tensor& x) {
  torch::Tensor h = x;
  for (auto& layer : *layers_) {
    if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(layer.ptr().get())) {
      h = torch::nn::functional::linear(h, linear->weight.detach(), linear->bias.detach());
    } else {
      h = layer.forward(h);  // an activation: no weights
    }
  }
  return h;
}

torch::Tensor MlpImpl::hidden(const torch::Tensor& x) {
  const bool fused_tanh = !torch::GradMode::is_enabled() && options_.activation() == "tanh" &&
                          x.device().is_cpu() && x.scalar_type() == torch::kFloat && x.dim() >= 1;
  if (fused_tanh) return fused_tanh_hidden(x);
  torch::Tensor h = x;
  auto layer = layers_->begin();
  for (size_t i = 0; i + 1 < layers_->size(); ++i, ++layer) h = layer->forward(h);
  return h;
}

// Without autograd, the tanh layers as one product and one in-place bias + tanh pass each
// (lvm/nn/fused_tanh.h): x [..., in] -> [..., last hidden width].
torch::Tensor MlpImpl::fused_tanh_hidden(const torch::Tensor& x) {
  auto shape = x.sizes().vec();
  torch::Tensor rows = x.reshape({-1, x.size(-1)}).contiguous();
  for (const auto& child : layers_->children()) {
    auto* linear = dynamic_cast<torch::nn::LinearImpl*>(child.get());
    if (linear == nullptr || linear == output_.get()) continue;
    rows = linear_tanh(rows, linear->weight, linear->bias);
  }
  shape.back() = rows.size(1);
  return rows.view(shape);
}

std::string MlpImpl::script_into(torch::jit::Module& module) {
  std::vector<torch::nn::LinearImpl*> linears;
  for (const auto& child : layers_->children()) {
    if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(child.get())) linears.push_back(linear);
  }
  std::ostringstream src;
  src << "def _net(self, h: Tensor) -> Tensor:\n";
  for (size_t i = 0; i < linears.size(); ++i) {
    const std::string w = fmt::format("w{}", i), b = fmt::format("b{}", i);
    torchscript::add_weight(module, w, linears[i]->weight);
    torchscript::add_weight(module, b, linears[i]->bias);
    const std::string linear = fmt::format("torch.linear(h, self.{}, self.{})", w, b);
    if (i + 1 < linears.size()) {
      src << "    h = " << torchscript::activation_call(options_.activation(), linear) << "\n";
    } else {
      src << "    return " << linear << "\n";
    }
  }
  return src.str();
}

int64_t MlpImpl::max_width() const {
  int64_t widest = std::max(options_.input_dim(), options_.output_dim());
  for (const int64_t h : options_.hidden()) widest = std::max(widest, h);
  return widest;
}

}  // namespace lvm::nn
