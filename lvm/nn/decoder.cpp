#include "lvm/nn/decoder.h"

#include <torch/torch.h>

namespace lvm::nn {

BernoulliDecoderImpl::BernoulliDecoderImpl(int64_t latent_dim, std::vector<int64_t> hidden, int64_t data_dim,
                                           std::string activation) {
  net_ =
      register_module("net", Mlp(MlpOptions(latent_dim, std::move(hidden), data_dim).activation(activation)));
}

std::shared_ptr<Distribution> BernoulliDecoderImpl::forward(const torch::Tensor& z) {
  return std::make_shared<Bernoulli>(net_->forward(z));
}

torch::Tensor BernoulliDecoderImpl::log_likelihood(const torch::Tensor& x, const torch::Tensor& z) {
  return Bernoulli(net_->forward(z)).log_prob(x);
}

GaussianDecoderImpl::GaussianDecoderImpl(int64_t latent_dim, std::vector<int64_t> hidden, int64_t data_dim,
                                         std::string activation) {
  net_ =
      register_module("net", Mlp(MlpOptions(latent_dim, std::move(hidden), data_dim).activation(activation)));
  log_var_ = register_parameter("log_var", torch::zeros({data_dim}));
}

std::shared_ptr<Distribution> GaussianDecoderImpl::forward(const torch::Tensor& z) {
  return std::make_shared<Normal>(net_->forward(z), log_var_);
}

torch::Tensor GaussianDecoderImpl::log_likelihood(const torch::Tensor& x, const torch::Tensor& z) {
  return Normal(net_->forward(z), log_var_).log_prob(x);
}

}  // namespace lvm::nn
