#include "lvm/models/factory.h"

#include <stdexcept>

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
  throw std::invalid_argument("model.type: unknown model '" + config.type + "'");
}

}  // namespace lvm
