// Writes this LibTorch build's set of version files (see version_files.h):
//   build/tests/write_version_files [DIR]     (default tests/versions/files/libtorch-MAJOR.MINOR)
// checkpoint.pt: a small VAE after three Adam steps, with the optimiser state;
// export.pt: the same model exported to TorchScript;
// reference.pt: encode_mean and fixed_loss of that model at the fixed inputs, and every
// parameter after one more fixed step (next/<name>), as this build computes them.
#include <filesystem>
#include <iostream>

#include "lvm/export/torchscript.h"
#include "lvm/train/checkpoint.h"
#include "tests/versions/version_files.h"

int main(int argc, char** argv) {
  using namespace lvm;
  namespace v = lvm::testing::versions;
  const std::string dir = argc > 1 ? argv[1] : v::files_dir(v::this_version());
  std::filesystem::create_directories(dir);

  torch::manual_seed(1);
  auto vae = v::make_vae();
  torch::optim::Adam adam(vae->parameters(), torch::optim::AdamOptions(1e-2));
  for (int i = 0; i < 3; ++i) v::fixed_step(*vae, adam);

  train::CheckpointState state;
  state.epoch = 3;
  state.best_epoch = 3;
  state.best_value = -1.5;
  state.config_yaml = "# written by LibTorch " + v::this_version() + "\n";
  state.metrics_csv = "epoch\n1\n2\n3\n";
  state.data_shape = {1, 3, 4};
  train::save_checkpoint(dir + "/checkpoint.pt", *vae, &adam, state);

  torchscript::ExportMetadata metadata;
  metadata.input_shape = {1, 3, 4};
  metadata.binarization = "dynamic";
  metadata.config_yaml = state.config_yaml;
  metadata.epoch = 3;
  torchscript::save_module(*vae, metadata, dir + "/export.pt");

  torch::serialize::OutputArchive reference;
  {
    torch::NoGradGuard no_grad;
    reference.write("encode_mean", vae->encode(v::fixed_x()).mean());
    reference.write("loss", v::fixed_loss(*vae));
  }
  v::fixed_step(*vae, adam);
  for (const auto& item : vae->named_parameters())
    reference.write("next/" + item.key(), item.value().detach());
  reference.save_to(dir + "/reference.pt");
  std::cout << "wrote " << dir << "/{checkpoint,export,reference}.pt\n";
  return 0;
}
