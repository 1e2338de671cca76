// Fuzz target for the checkpoint loader. Checks, beyond "accept or CheckpointError naming the
// file": read_checkpoint_state and load_checkpoint agree on the state; a rejected load leaves the
// model untouched (the header's "never half-loads"); an accepted one leaves model and optimiser
// able to take a training step.
#include <optional>

#include <torch/torch.h>

#include "lvm/models/vae/vae.h"
#include "lvm/train/checkpoint.h"
#include "tests/fuzz/fuzz_targets.h"

namespace lvm::fuzz {
namespace {

// The architecture of the seed checkpoints (tests/fuzz/corpus/checkpoint, make_corpus.cpp).
std::shared_ptr<Vae> seed_model() {
  return std::make_shared<Vae>(VaeOptions(6, 2).encoder_hidden({4}).decoder_hidden({4}));
}

std::vector<torch::Tensor> snapshot(torch::nn::Module& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model.parameters()) out.push_back(p.detach().clone());
  return out;
}

bool same(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

}  // namespace

Outcome checkpoint_input(const uint8_t* data, size_t size) {
  if (size > (1 << 16)) return Outcome::kRejected;
  ScratchFile file(scratch_path("checkpoint.pt"));
  write_bytes(file.path, data, size);

  std::optional<train::CheckpointState> state;
  try {
    state = train::read_checkpoint_state(file.path);
  } catch (const train::CheckpointError& e) {
    expect_names(e.what(), file.path, "read_checkpoint_state");
  }

  torch::manual_seed(0);
  auto model = seed_model();
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-2));
  const auto before = snapshot(*model);
  std::optional<train::CheckpointState> loaded;
  try {
    loaded = train::load_checkpoint(file.path, *model, &optimizer);
  } catch (const train::CheckpointError& e) {
    expect_names(e.what(), file.path, "load_checkpoint");
    const std::string message = e.what();
    // The optimiser is loaded after the model; only errors before that must leave it untouched.
    if (message.find("optimiser") == std::string::npos && !same(before, snapshot(*model)))
      finding("a rejected checkpoint changed the model: " + message);
  }
  if (loaded && !state) finding("load_checkpoint accepted what read_checkpoint_state rejected");
  if (!loaded) return Outcome::kRejected;
  if (loaded->epoch != state->epoch || loaded->best_epoch != state->best_epoch ||
      loaded->config_yaml != state->config_yaml || loaded->metrics_csv != state->metrics_csv ||
      loaded->data_shape != state->data_shape)
    finding("load_checkpoint and read_checkpoint_state read different states");

  // One training step on the loaded model and optimiser.
  model->zero_grad();
  model->log_joint(torch::ones({2, 6}), torch::zeros({1, 2, 2})).sum().neg().backward();
  optimizer.step();
  return Outcome::kAccepted;
}

}  // namespace lvm::fuzz

LVM_FUZZ_TARGET(checkpoint_input)
