#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "lvm/models/vae/vae.h"
#include "lvm/train/checkpoint.h"
#include "tests/testing.h"

namespace lvm::train {
namespace {

std::shared_ptr<Vae> small_vae(int64_t hidden) {
  return std::make_shared<Vae>(VaeOptions(6, 2).encoder_hidden({hidden}).decoder_hidden({hidden}));
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "(no CheckpointError)";
}

TEST(Checkpoint, RoundTripsModelOptimiserAndState) {
  testing::TempDir dir;
  auto model = small_vae(4);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-2));
  model->log_joint(torch::ones({2, 6}), torch::zeros({1, 2, 2})).sum().neg().backward();
  optimizer.step();
  CheckpointState state;
  state.epoch = 7;
  state.best_value = -88.5;
  state.best_epoch = 6;
  state.config_yaml = "name: x\n";
  state.metrics_csv = "epoch\n1\n";
  state.rng_state = at::globalContext().defaultGenerator(torch::kCPU).get_state();
  const auto path = dir.file("c.pt");
  save_checkpoint(path, *model, &optimizer, state);

  auto other = small_vae(4);
  torch::optim::Adam other_optimizer(other->parameters(), torch::optim::AdamOptions(1e-2));
  const auto loaded = load_checkpoint(path, *other, &other_optimizer);
  EXPECT_EQ(loaded.epoch, 7);
  EXPECT_EQ(loaded.best_value, -88.5);
  EXPECT_EQ(loaded.best_epoch, 6);
  EXPECT_EQ(loaded.config_yaml, "name: x\n");
  EXPECT_EQ(loaded.metrics_csv, "epoch\n1\n");
  EXPECT_TRUE(torch::equal(loaded.rng_state, state.rng_state));
  const auto a = model->parameters(), b = other->parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i]));
  // The optimiser's moments came back too: one more identical step gives identical parameters.
  for (auto* m : {model.get(), other.get()}) {
    m->zero_grad();
    m->log_joint(torch::ones({2, 6}), torch::zeros({1, 2, 2})).sum().neg().backward();
  }
  optimizer.step();
  other_optimizer.step();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i]));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(getpid())));
}

TEST(Checkpoint, AnotherArchitectureIsRejectedBeforeAnythingLoads) {
  testing::TempDir dir;
  auto model = small_vae(4);
  save_checkpoint(dir.file("c.pt"), *model, nullptr, {});
  auto wider = small_vae(5);
  const auto before = wider->parameters().front().clone();
  const auto message = message_of([&] { load_checkpoint(dir.file("c.pt"), *wider, nullptr); });
  EXPECT_NE(message.find("has shape [4, 6] in the checkpoint but [5, 6] in the model"), std::string::npos)
      << message;
  EXPECT_TRUE(torch::equal(before, wider->parameters().front()));
}

TEST(Checkpoint, MissingTruncatedAndForeignFilesAreClearErrors) {
  testing::TempDir dir;
  auto model = small_vae(4);
  EXPECT_NE(message_of([&] {
              load_checkpoint(dir.file("none.pt"), *model, nullptr);
            }).find("none.pt: checkpoint not found"),
            std::string::npos);

  save_checkpoint(dir.file("c.pt"), *model, nullptr, {});
  const auto bytes = testing::read_file(dir.file("c.pt"));
  testing::write_file(dir.file("cut.pt"), bytes.substr(0, bytes.size() / 2));
  const auto truncated = message_of([&] { load_checkpoint(dir.file("cut.pt"), *model, nullptr); });
  EXPECT_NE(truncated.find("cut.pt: not a readable checkpoint"), std::string::npos) << truncated;

  testing::write_file(dir.file("text.pt"), "hello");
  EXPECT_NE(message_of([&] {
              load_checkpoint(dir.file("text.pt"), *model, nullptr);
            }).find("text.pt: not a readable"),
            std::string::npos);

  // A checkpoint without optimiser state cannot resume training.
  torch::optim::Adam optimizer(model->parameters());
  EXPECT_NE(
      message_of([&] { load_checkpoint(dir.file("c.pt"), *model, &optimizer); }).find("no optimiser state"),
      std::string::npos);
}

TEST(Checkpoint, NewerFormatVersionIsRefused) {
  testing::TempDir dir;
  auto model = small_vae(4);
  torch::serialize::OutputArchive archive;
  archive.write("format_version", c10::IValue(kCheckpointFormatVersion + 1));
  archive.save_to(dir.file("future.pt"));
  const auto message = message_of([&] { load_checkpoint(dir.file("future.pt"), *model, nullptr); });
  EXPECT_NE(
      message.find("format version " + std::to_string(kCheckpointFormatVersion + 1) +
                   " is newer than this lvm understands (" + std::to_string(kCheckpointFormatVersion) + ")"),
      std::string::npos)
      << message;
}

// LibTorch does not check the CRC-32s of a checkpoint's zip entries, and its TorchScript parser
// crashed (SIGSEGV) on a corrupt one (found by tests/fuzz/checkpoint_fuzz.cpp): lvm checks them.
TEST(Checkpoint, CorruptBytesFailTheCrcCheck) {
  testing::TempDir dir;
  auto model = small_vae(4);
  save_checkpoint(dir.file("c.pt"), *model, nullptr, {});
  std::string bytes = testing::read_file(dir.file("c.pt"));
  // A bit of the pickled state: the entry data.pkl starts with the pickle protocol opcode 0x80 0x02.
  const size_t at = bytes.find("\x80\x02", bytes.find("data.pkl"));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 10] ^= 0x01;
  testing::write_file(dir.file("flipped.pt"), bytes);
  const auto message = message_of([&] { read_checkpoint_state(dir.file("flipped.pt")); });
  EXPECT_EQ(
      message.rfind(
          dir.file("flipped.pt") + ": not a readable checkpoint (truncated or corrupt file): entry '", 0),
      0u)
      << message;
  EXPECT_NE(message.find("' fails its CRC check (corrupt file)"), std::string::npos) << message;

  const std::string crashed = std::string(LVM_SOURCE_DIR) +
                              "/tests/fuzz/regressions/checkpoint/"
                              "reject-libtorch-segv-in-type-parser";
  EXPECT_NE(message_of([&] { read_checkpoint_state(crashed); }).find("fails its CRC check"),
            std::string::npos);
}

// Found by tests/fuzz/checkpoint_fuzz.cpp: values of the wrong type, parameters that are not
// real tensors and a corrupt TorchScript type description escaped as c10::Error or
// std::runtime_error instead of a CheckpointError naming the file.
TEST(Checkpoint, ValuesOfTheWrongTypeAreClearErrors) {
  testing::TempDir dir;
  auto model = small_vae(4);
  auto write_state = [](torch::serialize::OutputArchive& archive, c10::IValue epoch) {
    archive.write("format_version", c10::IValue(int64_t{1}));  // version 1: no mid-epoch fields
    archive.write("epoch", epoch);
    archive.write("best_value", c10::IValue(-1.0));
    archive.write("best_epoch", c10::IValue(int64_t{0}));
    archive.write("config_yaml", c10::IValue(std::string("name: x\n")));
    archive.write("metrics_csv", c10::IValue(std::string("epoch\n")));
  };
  torch::serialize::OutputArchive string_epoch;
  write_state(string_epoch, c10::IValue(std::string("three")));
  string_epoch.save_to(dir.file("string_epoch.pt"));
  EXPECT_EQ(message_of([&] { read_checkpoint_state(dir.file("string_epoch.pt")); }),
            dir.file("string_epoch.pt") + ": corrupt checkpoint: 'epoch' is a String, not an integer");

  // Every parameter present with the right shape, but one is complex.
  torch::serialize::OutputArchive complex_weight;
  write_state(complex_weight, c10::IValue(int64_t{1}));
  std::string complex_name;
  for (const auto& item : model->named_parameters()) {
    torch::Tensor value = item.value().detach().clone();
    if (complex_name.empty()) {
      complex_name = item.key();
      value = torch::complex(value, value);
    }
    complex_weight.write("model/" + item.key(), value);
  }
  complex_weight.save_to(dir.file("complex.pt"));
  const auto before = model->parameters()[1].clone();
  EXPECT_EQ(message_of([&] { load_checkpoint(dir.file("complex.pt"), *model, nullptr); }),
            dir.file("complex.pt") + ": corrupt checkpoint: parameter '" + complex_name +
                "' is not a real dense tensor");
  EXPECT_TRUE(torch::equal(model->parameters()[1], before));  // nothing half-loaded

  // The TorchScript parser's std::runtime_error is also turned into a CheckpointError, but this
  // fuzzer input that raised it is now caught earlier, by the CRC check.
  const std::string corrupt = std::string(LVM_SOURCE_DIR) +
                              "/tests/fuzz/regressions/checkpoint/"
                              "reject-torchscript-parse-error-1";
  EXPECT_NE(message_of([&] { read_checkpoint_state(corrupt); }).find("fails its CRC check"),
            std::string::npos);
}

}  // namespace
}  // namespace lvm::train
