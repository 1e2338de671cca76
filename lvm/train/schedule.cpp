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

}  // namespace lvm::train
