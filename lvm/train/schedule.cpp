#include "lvm/train/schedule.h"

#include <cmath>
#include <stdexcept>

namespace lvm::train {

double learning_rate(const config::TrainConfig& config, int64_t epoch) {
  const auto e = static_cast<double>(epoch);
  if (config.schedule == "none") return config.lr;
  if (config.schedule == "step")
    return config.lr * std::pow(config.gamma, std::floor(e / static_cast<double>(config.step_size)));
  if (config.schedule == "exponential") return config.lr * std::pow(config.gamma, e);
  if (config.schedule == "cosine") {
    const double progress = e / static_cast<double>(config.epochs);
    return config.lr_min + (config.lr - config.lr_min) * 0.5 * (1.0 + std::cos(M_PI * progress));
  }
  throw std::invalid_argument("train.schedule: unknown schedule '" + config.schedule + "'");
}

FlatAdamOptions optimizer_options(const config::TrainConfig& config) {
  if (config.optimizer != "adam" && config.optimizer != "adamw")
    throw std::invalid_argument("train.optimizer: unknown optimizer '" + config.optimizer + "'");
  const bool decoupled = config.optimizer == "adamw";
  FlatAdamOptions options;
  options.adam = torch::optim::AdamOptions(config.lr)
                     .betas({config.beta1, config.beta2})
                     .eps(config.eps)
                     .weight_decay(decoupled ? 0.0 : config.weight_decay);
  options.decoupled_weight_decay = decoupled ? config.weight_decay : 0.0;
  return options;
}

}  // namespace lvm::train
