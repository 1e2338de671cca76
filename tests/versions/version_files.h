#pragma once
// Files written by one LibTorch version and read by another (tests/versions/versions_test.cpp):
// a checkpoint with Adam state, a TorchScript export, and the numbers the writing build computed
// from them. tests/versions/write_version_files.cpp writes them; each LibTorch build's set is
// committed under tests/versions/files/libtorch-MAJOR.MINOR/, so that every build reads every
// other build's files. Inputs are formulas, not random draws: random streams may differ between
// versions, and the reader must build the same inputs as the writer did.

#include <torch/torch.h>

#include <memory>
#include <string>

#include "lvm/models/vae/vae.h"

namespace lvm::testing::versions {

constexpr int64_t kDataDim = 12;
constexpr int64_t kLatentDim = 3;

inline std::shared_ptr<Vae> make_vae() {
  return std::make_shared<Vae>(
      VaeOptions(kDataDim, kLatentDim).encoder_hidden({8}).decoder_hidden({7}).activation("tanh"));
}

/// x [4, 12] binary, z [1, 4, 3]: a fixed batch and fixed latents.
inline torch::Tensor fixed_x() {
  return (torch::sin(torch::arange(4 * kDataDim, torch::kFloat).view({4, kDataDim}) * 1.7) > 0)
      .to(torch::kFloat);
}
inline torch::Tensor fixed_z() {
  return torch::cos(torch::arange(4 * kLatentDim, torch::kFloat).view({1, 4, kLatentDim}) * 0.9);
}

/// A loss without random draws that reaches every parameter: -log p(x, z) - log q(z|x) at the
/// fixed latents.
inline torch::Tensor fixed_loss(Vae& vae) {
  return -(vae.log_joint(fixed_x(), fixed_z()) + vae.proposal(fixed_x())->log_prob(fixed_z())).sum();
}

/// One Adam step on fixed_loss.
inline void fixed_step(Vae& vae, torch::optim::Adam& adam) {
  adam.zero_grad();
  fixed_loss(vae).backward();
  adam.step();
}

inline std::string files_dir(const std::string& version) {
  return std::string(LVM_SOURCE_DIR) + "/tests/versions/files/libtorch-" + version;
}

inline std::string this_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR);
}

}  // namespace lvm::testing::versions
