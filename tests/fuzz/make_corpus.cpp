// Writes the seed inputs of the fuzz targets that are binary files (IDX arrays, checkpoints):
//   build-sanitize/fuzz/make_corpus tests/fuzz/corpus
// The config seeds are the shipped configs/*.yaml plus hand-written files. Every file is named
// accept-* or reject-* after the outcome fuzz_corpus_test.cpp expects.
#include <filesystem>
#include <iostream>

#include <torch/torch.h>

#include "lvm/data/idx.h"
#include "lvm/models/vae/vae.h"
#include "lvm/train/checkpoint.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_corpus CORPUS_DIR\n";
    return 2;
  }
  namespace fs = std::filesystem;
  const fs::path root = argv[1];
  fs::create_directories(root / "idx");
  fs::create_directories(root / "checkpoint");
  torch::manual_seed(0);

  // Small arrays of every dtype, ranks 1..4, raw and gzip.
  const std::vector<std::pair<torch::ScalarType, std::vector<int64_t>>> arrays = {
      {torch::kUInt8, {3, 2, 2}},    {torch::kInt8, {5}},       {torch::kInt16, {2, 3}},
      {torch::kInt32, {1, 2, 1, 2}}, {torch::kFloat32, {2, 2}}, {torch::kFloat64, {3}},
  };
  for (const auto& [type, shape] : arrays) {
    const torch::Tensor a = (torch::rand(shape) * 100 - 20).to(type);
    const std::string name = std::string(c10::toString(type)) + "-" + std::to_string(shape.size()) + "d";
    lvm::data::write_idx((root / "idx" / ("accept-" + name)).string(), a);
    lvm::data::write_idx((root / "idx" / ("accept-" + name + ".gz")).string(), a, true);
  }

  // The architecture checkpoint_fuzz.cpp loads into, with and without optimiser state.
  auto model = std::make_shared<lvm::Vae>(lvm::VaeOptions(6, 2).encoder_hidden({4}).decoder_hidden({4}));
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-2));
  model->log_joint(torch::ones({2, 6}), torch::zeros({1, 2, 2})).sum().neg().backward();
  optimizer.step();
  lvm::train::CheckpointState state;
  state.epoch = 3;
  state.best_value = -12.5;
  state.best_epoch = 2;
  state.config_yaml = "name: fuzz\nmodel:\n  latent_dim: 2\n";
  state.metrics_csv = "epoch,train_elbo\n1,-20\n2,-15\n3,-13\n";
  state.rng_state = at::globalContext().defaultGenerator(torch::kCPU).get_state();
  state.data_shape = {1, 2, 3};
  lvm::train::save_checkpoint((root / "checkpoint" / "accept-vae-adam").string(), *model, &optimizer, state);
  // Without optimiser state: read_checkpoint_state accepts it, loading for training refuses it.
  lvm::train::save_checkpoint((root / "checkpoint" / "reject-vae-no-optimiser").string(), *model, nullptr,
                              state);
  return 0;
}
