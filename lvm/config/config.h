#pragma once
// Experiment configuration: typed structs with their defaults in one place, read from YAML with
// strict validation (unknown keys, wrong types and out-of-range values are errors naming the
// file, line and key path) and written back as the resolved config.yaml of a run.
//
// Every field is declared once, in its section's `visit_fields` (lvm/config/fields.h): lvm's own
// sections in config.cpp, a model's options in its folder under lvm/models/. Parsing, `--set`
// overrides, validation and YAML output are all driven by them. To add a key, add the member with
// its default and one line to the matching visit_fields.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lvm/config/fields.h"

namespace lvm::config {

/// A configuration error; what() names the source (file:line or "--set"), the key path and the
/// fault, e.g. "configs/x.yaml:12: train.batch_size: expected an integer >= 1, got -3".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ExperimentConfig;

/// Cross-key rules report through this: fail() throws a ConfigError that names where key_path
/// was set (file:line or the --set) and the key.
class RuleContext {
 public:
  virtual ~RuleContext() = default;
  [[noreturn]] virtual void fail(const std::string& key_path, const std::string& what) const = 0;
};

/// A model's own keys: the model section less `type`. Each model declares its options (see
/// lvm/models/registry.h); the config holds only the chosen model's.
class ModelOptions : public Section {
 public:
  virtual std::unique_ptr<ModelOptions> clone() const = 0;
  /// Rules across keys, and between the model and the rest of the config (the data it accepts).
  virtual void check(const ExperimentConfig& config, const RuleContext& context) const {}
  /// Keys that shape training only (an objective, its sample count): a checkpoint written with
  /// other values still fits the model. Every other key is part of the architecture.
  virtual std::vector<std::string> training_keys() const { return {}; }
  /// Latent samples drawn per example in one training step (the memory check scales by it).
  virtual int64_t samples_per_example() const { return 1; }
};

/// clone() for an options struct: `struct MyOptions : ModelOptionsBase<MyOptions> {...}`.
template <typename Derived>
class ModelOptionsBase : public ModelOptions {
 public:
  std::unique_ptr<ModelOptions> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

/// The model section: `type` picks a registered model, whose options hold the other keys.
/// Changing the type (a --set model.type=...) starts from that model's defaults.
class ModelConfig : public Section {
 public:
  /// The default model's defaults.
  ModelConfig();
  /// `type`'s defaults; throws ConfigError for a type nobody registered.
  explicit ModelConfig(const std::string& type);
  ModelConfig(const ModelConfig& other);
  ModelConfig& operator=(const ModelConfig& other);
  ModelConfig(ModelConfig&&) noexcept = default;
  ModelConfig& operator=(ModelConfig&&) noexcept = default;

  const std::string& type() const { return type_; }
  /// Switches to `type` with its defaults (nothing happens when it is the type already).
  void set_type(const std::string& type);
  ModelOptions& options() { return *options_; }
  const ModelOptions& options() const { return *options_; }
  /// The options as the model's own struct; throws ConfigError when they belong to another model.
  template <typename T>
  T& get() {
    return const_cast<T&>(static_cast<const ModelConfig&>(*this).get<T>());
  }
  template <typename T>
  const T& get() const {
    const auto* typed = dynamic_cast<const T*>(options_.get());
    if (typed == nullptr) throw_wrong_options();
    return *typed;
  }

  void visit_fields(FieldVisitor& v) override;

 private:
  [[noreturn]] void throw_wrong_options() const;

  std::string type_;
  std::unique_ptr<ModelOptions> options_;
};

struct DataConfig : Section {
  std::string dataset = "mnist";     // mnist | fashion_mnist | npy (images) | synthetic | csv (the last two:
                                     // vector data, for models that take them)
  std::string path = "data/mnist";   // directory with the four IDX files (raw or .gz); csv, npy: the file
  std::string binarize = "dynamic";  // none | dynamic | static
  int64_t validation_size = 10000;   // carved from the end of the training set
  int64_t train_limit = 0;           // use only the first N training images (0: all)
  int64_t test_limit = 0;            // use only the first N test images (0: all)
  // A Bernoulli likelihood on grey levels in [0,1] is a cross-entropy, not a normalised
  // likelihood; it is refused unless this is set.
  bool bernoulli_on_grey = false;
  // --- vector data for the Gaussian mixture ---
  std::string synthetic = "ring";  // ring | circles | pinwheel (lvm/data/synthetic.h)
  int64_t n_train = 2000;          // synthetic: points in each split
  int64_t n_test = 2000;
  double noise = 0.1;          // synthetic: noise scale (see lvm/data/synthetic.h)
  std::string test_path = "";  // csv, npy: test rows / images from this file; empty: a test_fraction split
  double test_fraction =
      0.2;                  // csv, npy without test_path: share held out (csv: seeded shuffle; npy: the last)
  std::string labels = "";  // npy: integer labels [N] of data.path's images (empty: all 0)
  std::string test_labels = "";  // npy: labels of data.test_path's images
  int64_t pca_dim = 0;           // vector data: project onto the top pca_dim principal components (0: off)

  void visit_fields(FieldVisitor& v) override;
};

struct TrainConfig : Section {
  int64_t epochs = 50;
  int64_t batch_size = 100;
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  // adam: weight_decay is an L2 term added to the gradient (torch.optim.Adam's); adamw: parameters
  // shrink by lr · weight_decay each step, apart from the gradient (torch.optim.AdamW's).
  std::string optimizer = "adam";  // adam | adamw
  double weight_decay = 0.0;
  std::string schedule = "none";  // none | step | exponential | cosine
  int64_t step_size = 10;         // step: epochs between decays
  double gamma = 0.5;             // step / exponential: decay factor
  double lr_min = 0.0;            // cosine: final learning rate
  double grad_clip = 0.0;         // max global gradient norm (0: off)
  int64_t seed = 0;
  int64_t eval_batch_size = 1000;
  // A non-finite loss or gradient: stop (name the step, keep the checkpoints as they were) or
  // skip the batch (no optimiser step; counted in metrics.csv), stopping after this many in a row.
  std::string on_nonfinite = "stop";  // stop | skip
  int64_t max_skips_in_a_row = 10;
  int64_t checkpoint_every = 0;  // also write checkpoints/last.pt every N steps (0: at epoch ends only)

  void visit_fields(FieldVisitor& v) override;
};

struct OutputConfig : Section {
  std::string run_dir = "";       // empty: runs/<name>
  std::string progress = "auto";  // auto (bar on a terminal) | bar | lines | none
  int64_t image_every = 5;        // sample / reconstruction pictures every N epochs and the last (0: off)

  void visit_fields(FieldVisitor& v) override;
};

// Data-parallel runs (lvm train --nproc N, torchrun; lvm/distributed/): ignored by one process.
struct DistributedConfig : Section {
  // The rendezvous, or any exchange between the processes, that takes longer ends the run with
  // an error naming the process and what it was doing (a peer that died or hangs).
  double timeout_s = 300;

  void visit_fields(FieldVisitor& v) override;
};

struct ExperimentConfig : Section {
  std::string name = "experiment";
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  int64_t threads = 0;          // 0: all cores
  int64_t torch_threads = 0;    // LibTorch intra-op threads; 0: automatic (see lvm/runtime/runtime.h)
  int64_t blas_threads = 0;     // BLAS threads; 0: automatic
  ModelConfig model;
  DataConfig data;
  TrainConfig train;
  OutputConfig output;
  DistributedConfig distributed;

  /// runs/<name> unless output.run_dir is set.
  std::string resolved_run_dir() const;
  void visit_fields(FieldVisitor& v) override;
};

/// Whether data.dataset holds vectors (synthetic, csv) rather than images (mnist, fashion_mnist).
bool is_vector_dataset(const DataConfig& data);

/// Every key of the model section (`type` first) with its value as text, nested sections' keys as
/// paths: "latent_dim" -> "50", "encoder.hidden" -> "[200, 200]".
std::vector<std::pair<std::string, std::string>> model_key_values(const ModelConfig& model);

/// Field-by-field equality over every key (driven by the same field tables as parsing).
bool operator==(const ExperimentConfig& a, const ExperimentConfig& b);
bool operator!=(const ExperimentConfig& a, const ExperimentConfig& b);

/// Parses a YAML file into a config (defaults for absent keys), then applies `overrides`, each
/// "a.b=v" with v in YAML syntax, then validates. Throws ConfigError.
ExperimentConfig load_config(const std::string& path, const std::vector<std::string>& overrides = {});

/// Same from YAML text; `source_name` stands for the file in error messages.
ExperimentConfig parse_config(const std::string& yaml_text, const std::string& source_name,
                              const std::vector<std::string>& overrides = {});

/// Applies one "a.b=v" override to an already parsed config and validates it again.
void apply_override(ExperimentConfig& config, const std::string& assignment);

/// Checks ranges and cross-field rules; throws ConfigError naming the key.
void validate(const ExperimentConfig& config, const std::string& source_name = "config");

/// The full resolved config as YAML (every key, defaults included); parse_config(to_yaml(c))
/// returns c.
std::string to_yaml(const ExperimentConfig& config);

}  // namespace lvm::config
