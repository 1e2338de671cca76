#include "lvm/models/factory.h"

#include <stdexcept>

#include "lvm/models/gaussian_mixture.h"
#include "lvm/models/vae.h"

namespace lvm {

std::shared_ptr<LatentVariableModel> make_model(const config::ModelConfig& config, int64_t data_dim) {
  if (config.type == "vae") {
    return std::make_shared<Vae>(VaeOptions(data_dim, config.latent_dim)
                                     .encoder_hidden(config.encoder_hidden)
                                     .decoder_hidden(config.decoder_hidden)
                                     .activation(config.activation)
                                     .likelihood(config.likelihood));
  }
  if (config.type == "gmm") {
    return std::make_shared<GaussianMixture>(GaussianMixtureOptions(data_dim, config.components)
                                                 .covariance(parse_covariance_type(config.covariance))
                                                 .reg_covar(config.reg_covar));
  }
  throw std::invalid_argument("model.type: unknown model '" + config.type + "'");
}

}  // namespace lvm
