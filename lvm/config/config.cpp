#include "lvm/config/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>
#include <variant>

#include "lvm/models/registry.h"

namespace lvm::config {
namespace {

// ---------------------------------------------------------------------------------------------
// The field tables of lvm's own sections: the one place each key is declared. A model's keys are
// declared by the model (lvm/models/<name>/).

StringRule device_spec() {
  return {[](const std::string& s) {
            if (s == "auto" || s == "cpu" || s == "cuda") return true;
            const std::string prefix = "cuda:";
            if (s.size() <= prefix.size() || s.compare(0, prefix.size(), prefix) != 0) return false;
            return std::all_of(s.begin() + prefix.size(), s.end(),
                               [](char ch) { return ch >= '0' && ch <= '9'; });
          },
          "auto, cpu, cuda or cuda:N (N a device index)"};
}

}  // namespace

void DataConfig::visit_fields(FieldVisitor& v) {
  v.choice("dataset", dataset, {"mnist", "fashion_mnist", "npy", "images", "synthetic", "csv"});
  v.field("path", path, non_empty());
  v.choice("binarize", binarize, {"none", "dynamic", "static"});
  v.field("validation_size", validation_size, at_least(0));
  v.field("train_limit", train_limit, at_least(0));
  v.field("test_limit", test_limit, at_least(0));
  v.field("bernoulli_on_grey", bernoulli_on_grey);
  v.choice("synthetic", synthetic, {"ring", "circles", "pinwheel"});
  v.field("n_train", n_train, at_least(1));
  v.field("n_test", n_test, at_least(0));
  v.field("noise", noise, at_least(0));
  v.field("test_path", test_path, any_string());
  v.field("test_fraction", test_fraction, Range{0, 1, false, true});  // [0, 1)
  v.field("labels", labels, any_string());
  v.field("test_labels", test_labels, any_string());
  v.field("pca_dim", pca_dim, at_least(0));
}

void TrainConfig::visit_fields(FieldVisitor& v) {
  v.field("epochs", epochs, at_least(1));
  v.field("batch_size", batch_size, at_least(1));
  v.field("lr", lr, greater_than(0));
  v.field("beta1", beta1, open_interval(0, 1));
  v.field("beta2", beta2, open_interval(0, 1));
  v.field("eps", eps, greater_than(0));
  v.choice("optimizer", optimizer, {"adam", "adamw"});
  v.field("weight_decay", weight_decay, at_least(0));
  v.choice("schedule", schedule, {"none", "step", "exponential", "cosine"});
  v.field("step_size", step_size, at_least(1));
  v.field("gamma", gamma, left_open_interval(0, 1));
  v.field("lr_min", lr_min, at_least(0));
  v.field("grad_clip", grad_clip, at_least(0));
  v.field("seed", seed, at_least(0));
  v.field("eval_batch_size", eval_batch_size, at_least(1));
  v.choice("on_nonfinite", on_nonfinite, {"stop", "skip"});
  v.field("max_skips_in_a_row", max_skips_in_a_row, at_least(1));
  v.field("checkpoint_every", checkpoint_every, at_least(0));
}

void OutputConfig::visit_fields(FieldVisitor& v) {
  v.field("run_dir", run_dir, any_string());
  v.choice("progress", progress, {"auto", "bar", "lines", "none"});
  v.field("image_every", image_every, at_least(0));
}

void DistributedConfig::visit_fields(FieldVisitor& v) { v.field("timeout_s", timeout_s, greater_than(0)); }

void ExperimentConfig::visit_fields(FieldVisitor& v) {
  v.field("name", name, non_empty());
  v.field("device", device, device_spec());
  v.field("threads", threads, at_least(0));
  v.field("torch_threads", torch_threads, at_least(0));
  v.field("blas_threads", blas_threads, at_least(0));
  v.section("model", model);
  v.section("data", data);
  v.section("train", train);
  v.section("output", output);
  v.section("distributed", distributed);
}

// ---------------------------------------------------------------------------------------------
// The model section: `type` first, then the chosen model's own keys.

ModelConfig::ModelConfig() : ModelConfig(default_model_type()) {}

ModelConfig::ModelConfig(const std::string& type)
    : type_(type), options_(model_spec(type).default_options()) {}

ModelConfig::ModelConfig(const ModelConfig& other) : type_(other.type_), options_(other.options_->clone()) {}

ModelConfig& ModelConfig::operator=(const ModelConfig& other) {
  if (this != &other) {
    type_ = other.type_;
    options_ = other.options_->clone();
  }
  return *this;
}

void ModelConfig::set_type(const std::string& type) {
  if (type == type_) return;
  options_ = model_spec(type).default_options();
  type_ = type;
}

void ModelConfig::throw_wrong_options() const {
  throw ConfigError(fmt::format("model.type is {}: its options are not the ones asked for", type_));
}

void ModelConfig::visit_fields(FieldVisitor& v) {
  std::string type = type_;
  v.choice("type", type, registered_model_types());
  set_type(type);  // a parse or an override may have chosen another model
  options_->visit_fields(v);
}

namespace {

// ---------------------------------------------------------------------------------------------
// Error reporting.

// Where a value came from: a file (with a line when known) or a --set override.
struct Where {
  std::string source;
  int line = 0;              // 1-based; 0: unknown
  bool track_lines = false;  // false for overrides, whose text has no useful lines

  // The same source at `node`'s line.
  Where at(const YAML::Node& node) const {
    Where w = *this;
    if (track_lines && node.Mark().line >= 0) w.line = node.Mark().line + 1;
    return w;
  }
  std::string str() const { return line > 0 ? fmt::format("{}:{}", source, line) : source; }
};

// Key path -> where it was last set, so that validation can point at the line to fix.
using Origins = std::map<std::string, Where>;

[[noreturn]] void fail(const Where& where, const std::string& key_path, const std::string& what) {
  throw ConfigError(fmt::format("{}: {}: {}", where.str(), key_path, what));
}

std::string join_path(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

std::string describe_node(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  return "'" + n.Scalar() + "'";
}

// Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

struct KeyInfo {
  std::string name;
  bool section = false;
  bool moved = false;  // an older key, read into new_paths (FieldVisitor::moved)
  std::vector<std::string> new_paths;
};

struct NoRule {};

// Forwards FieldVisitor's typed overloads to Derived's template on_field(key, value, rule), so that
// a visitor handles every value type with one function (booleans get NoRule).
template <typename Derived>
class TypedVisitor : public FieldVisitor {
 public:
  void field(const char* key, int64_t& value, const Range& rule) override {
    self().on_field(key, value, rule);
  }
  void field(const char* key, double& value, const Range& rule) override {
    self().on_field(key, value, rule);
  }
  void field(const char* key, bool& value) override { self().on_field(key, value, NoRule{}); }
  void field(const char* key, std::string& value, const StringRule& rule) override {
    self().on_field(key, value, rule);
  }
  void field(const char* key, std::vector<int64_t>& value, const Range& rule) override {
    self().on_field(key, value, rule);
  }
  void section(const char* key, Section& value) override { self().on_section(key, value); }
  void moved(const char* old_key, const std::vector<std::string>& new_paths) override {
    self().on_moved(old_key, new_paths);
  }

  // Only the readers follow moved keys; a Derived that does hides this.
  void on_moved(const char*, const std::vector<std::string>&) {}

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

// Collects the key names of one section's table.
class KeyCollector : public TypedVisitor<KeyCollector> {
 public:
  template <typename T, typename Rule>
  void on_field(const char* key, T&, const Rule&) {
    keys_.push_back({key, false, false, {}});
  }
  void on_section(const char* key, Section&) { keys_.push_back({key, true, false, {}}); }
  void on_moved(const char* old_key, const std::vector<std::string>& new_paths) {
    keys_.push_back({old_key, false, true, new_paths});
  }
  std::vector<KeyInfo> keys() const { return keys_; }

 private:
  std::vector<KeyInfo> keys_;
};

std::vector<KeyInfo> keys_of(Section& section) {
  KeyCollector collector;
  section.visit_fields(collector);
  return collector.keys();
}

// The model types (other than `type`) that declare `key`, for "did you mix two models?" errors.
std::vector<std::string> models_with_key(const std::string& key, const std::string& except_type) {
  std::vector<std::string> owners;
  for (const std::string& type : registered_model_types()) {
    if (type == except_type) continue;
    ModelConfig other(type);
    for (const KeyInfo& k : keys_of(other)) {
      if (k.name == key && key != "type") owners.push_back(type);
    }
  }
  return owners;
}

bool is_known(const std::string& key, const std::vector<KeyInfo>& known) {
  return std::any_of(known.begin(), known.end(), [&](const KeyInfo& k) { return k.name == key; });
}

// `model`: the model section the key was given in, if it was.
[[noreturn]] void fail_unknown(const Where& where, const std::string& key_path, const std::string& key,
                               const std::vector<KeyInfo>& known, bool as_section,
                               const ModelConfig* model = nullptr) {
  if (model != nullptr) {
    const std::vector<std::string> owners = models_with_key(key, model->type());
    if (!owners.empty()) {
      fail(where, key_path,
           fmt::format("unknown key for model.type {}: it is a key of {} (a model section holds the keys of "
                       "its own model only: set model.type: {} or remove the key)",
                       model->type(), fmt::join(owners, " and "), owners.front()));
    }
  }
  const KeyInfo* best = nullptr;
  size_t best_distance = 3;  // suggest only within distance 2
  for (const KeyInfo& k : known) {
    if (k.moved) continue;  // an older key is read, never suggested
    const size_t distance = edit_distance(key, k.name);
    // A distance as large as the candidate (e.g. "x" vs "k") is no real resemblance.
    if (distance < best_distance && distance < k.name.size()) {
      best = &k;
      best_distance = distance;
    }
  }
  std::string what = as_section ? "unknown section" : "unknown key";
  if (best != nullptr) {
    what += fmt::format(" (did you mean '{}'?)", best->name);
  } else {
    std::vector<std::string> names;
    for (const KeyInfo& k : known) {
      if (!k.moved) names.push_back(k.name);
    }
    what += fmt::format(" (known: {})", fmt::join(names, ", "));
  }
  fail(where, key_path, what);
}

// ---------------------------------------------------------------------------------------------
// Scalars: strict YAML 1.2 core-schema numbers and booleans.

// Quoted scalars carry the non-specific tag "!": they are strings, never numbers or booleans.
bool is_plain_scalar(const YAML::Node& n) { return n.IsScalar() && n.Tag() != "!"; }

std::optional<int64_t> parse_integer(const std::string& text) {
  std::string_view s = text;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty() || s.front() == '+') return std::nullopt;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// Decimal notation only ([+-]digits[.digits][e[+-]digits]); .inf, .nan and hex are refused.
std::optional<double> parse_number(const std::string& text) {
  size_t i = 0;
  const size_t n = text.size();
  auto digits = [&] {
    const size_t start = i;
    while (i < n && text[i] >= '0' && text[i] <= '9') ++i;
    return i - start;
  };
  if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
  size_t mantissa_digits = digits();
  if (i < n && text[i] == '.') {
    ++i;
    mantissa_digits += digits();
  }
  if (mantissa_digits == 0) return std::nullopt;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) return std::nullopt;
  }
  if (i != n) return std::nullopt;
  // from_chars is locale-independent but refuses a leading '+'.
  const size_t start = text[0] == '+' ? 1 : 0;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data() + start, text.data() + n, value);
  if (ec != std::errc() || end != text.data() + n || !std::isfinite(value)) return std::nullopt;
  return value;
}

// Shortest text that reads back as the same double, always with a '.' or an exponent so that it
// reads as a real number.
std::string format_number(double x) {
  std::string s = fmt::format("{}", x);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

// ---------------------------------------------------------------------------------------------
// Checks (rule against value) and reads (YAML node -> value, then check).

void check(int64_t value, const Range& rule, const Where& where, const std::string& path) {
  if (!rule.contains(static_cast<double>(value))) {
    fail(where, path, fmt::format("expected an integer {}, got {}", rule.describe(), value));
  }
}

void check(double value, const Range& rule, const Where& where, const std::string& path) {
  if (!std::isfinite(value) || !rule.contains(value)) {
    fail(where, path, fmt::format("expected a number {}, got {}", rule.describe(), format_number(value)));
  }
}

void check(const std::vector<int64_t>& values, const Range& rule, const Where& where,
           const std::string& path) {
  for (size_t i = 0; i < values.size(); ++i) check(values[i], rule, where, fmt::format("{}[{}]", path, i));
}

void check(const std::string& value, const StringRule& rule, const Where& where, const std::string& path) {
  if (rule.ok && !rule.ok(value))
    fail(where, path, fmt::format("expected {}, got '{}'", rule.expected, value));
}

void check(bool, NoRule, const Where&, const std::string&) {}

void read(const YAML::Node& n, const Where& where, const std::string& path, int64_t& out, const Range& rule) {
  std::optional<int64_t> value;
  if (is_plain_scalar(n)) value = parse_integer(n.Scalar());
  if (!value) fail(where, path, "expected an integer, got " + describe_node(n));
  check(*value, rule, where, path);
  out = *value;
}

void read(const YAML::Node& n, const Where& where, const std::string& path, double& out, const Range& rule) {
  std::optional<double> value;
  if (is_plain_scalar(n)) value = parse_number(n.Scalar());
  if (!value) fail(where, path, "expected a number, got " + describe_node(n));
  check(*value, rule, where, path);
  out = *value;
}

void read(const YAML::Node& n, const Where& where, const std::string& path, bool& out, NoRule) {
  if (is_plain_scalar(n) && (n.Scalar() == "true" || n.Scalar() == "false")) {
    out = n.Scalar() == "true";
    return;
  }
  fail(where, path, "expected true or false, got " + describe_node(n));
}

// Offset of the first byte that is not part of well-formed UTF-8 (no overlong forms, surrogates
// or code points past U+10FFFF), or npos.
size_t invalid_utf8_at(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned c = s[i];
    size_t length = 0;
    unsigned low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (c < 0x80)
      length = 1;
    else if (c >= 0xC2 && c <= 0xDF)
      length = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;
      if (c == 0xED) high = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;
      if (c == 0xF4) high = 0x8F;
    } else {
      return i;
    }
    if (i + length > n) return i;
    for (size_t k = 1; k < length; ++k) {
      const unsigned b = s[i + k];
      if (k == 1 ? (b < low || b > high) : (b < 0x80 || b > 0xBF)) return i;
    }
    i += length;
  }
  return std::string::npos;
}

void read(const YAML::Node& n, const Where& where, const std::string& path, std::string& out,
          const StringRule& rule) {
  if (!n.IsScalar()) {
    // A bare `key:` is YAML's null, not an empty string; say how to write the latter.
    const std::string hint = n.IsNull() ? " (write \"\" for an empty string)" : "";
    fail(where, path, fmt::format("expected {}, got {}{}", rule.expected, describe_node(n), hint));
  }
  // YAML text is UTF-8; other bytes would not survive into the run's resolved config.yaml
  // (found by tests/fuzz/config_fuzz.cpp).
  if (const size_t at = invalid_utf8_at(n.Scalar()); at != std::string::npos) {
    fail(where, path,
         fmt::format(
             "expected UTF-8 text, got the byte 0x{:02X} at offset {} (is the file in another encoding?)",
             static_cast<unsigned char>(n.Scalar()[at]), at));
  }
  check(n.Scalar(), rule, where, path);
  out = n.Scalar();
}

void read(const YAML::Node& n, const Where& where, const std::string& path, std::vector<int64_t>& out,
          const Range& rule) {
  if (!n.IsSequence())
    fail(where, path, "expected a list of integers such as [200, 200], got " + describe_node(n));
  std::vector<int64_t> values(n.size());
  for (size_t i = 0; i < n.size(); ++i) {
    read(n[i], where.at(n[i]), fmt::format("{}[{}]", path, i), values[i], rule);
  }
  out = std::move(values);
}

// ---------------------------------------------------------------------------------------------
// Visitors.

// The model section lvm 0.1 wrote into every run's config.yaml and checkpoint: one flat list of
// every model's keys. A section that holds all of them is that format; the keys that are not the
// chosen model's are dropped when it is read, so that old runs still load.
const char* const kFlatModelKeys[] = {"type",       "latent_dim",    "encoder_hidden", "decoder_hidden",
                                      "activation", "likelihood",    "objective",      "k",
                                      "kl",         "iwae_gradient", "components",     "covariance",
                                      "reg_covar",  "fit",           "em_max_steps",   "em_tol",
                                      "init",       "n_init"};

// One key of a map being read: its key node (for the line), its value, and, for a moved key read
// into its new place, the path it was written as (errors in its value name what was written).
struct Entry {
  YAML::Node key;
  YAML::Node value;
  std::string written_path;  // empty: the key's own path
};

// Moved keys on their way to a section below: (key path relative to that section, entry).
using MovedEntries = std::vector<std::pair<std::string, Entry>>;

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> keys;
  std::stringstream stream(path);
  for (std::string key; std::getline(stream, key, '.');) keys.push_back(key);
  return keys;
}

// Reads one YAML map into a section: unknown and duplicate keys are errors, absent keys keep
// their defaults. `moved_in`: values of older keys of an enclosing section that belong here.
class ParseVisitor : public TypedVisitor<ParseVisitor> {
 public:
  ParseVisitor(const YAML::Node& map, Where where, std::string prefix, Origins& origins,
               MovedEntries moved_in = {})
      : map_(map),
        where_(std::move(where)),
        prefix_(std::move(prefix)),
        origins_(origins),
        moved_in_(std::move(moved_in)) {}

  void parse(Section& target) {
    index_entries();
    for (const auto& [path, entry] : moved_in_) place(path, entry);
    auto* model = dynamic_cast<ModelConfig*>(&target);
    if (model != nullptr) {
      select_model(*model);
    } else {
      read_type_first(target);
    }
    read_moved_keys(target);
    // Every key is checked before any value, so that a misspelt key is reported even if a later
    // value is bad.
    const std::vector<KeyInfo> known = keys_of(target);
    for (const auto& [key, entry] : entries_) {
      if (!is_known(key, known)) {
        fail_unknown(where_.at(entry.key), shown_path(key, entry), key, known,
                     prefix_.empty() && entry.value.IsMap(), model);
      }
    }
    target.visit_fields(*this);
  }

  template <typename T, typename Rule>
  void on_field(const char* key, T& value, const Rule& rule) {
    if (!only_.empty() && only_ != key) return;
    const auto entry = entries_.find(key);
    if (entry == entries_.end()) return;
    const Where where = where_.at(entry->second.key);
    read(entry->second.value, where, shown_path(key, entry->second), value, rule);
    origins_[join_path(prefix_, key)] = where;
  }

  void on_section(const char* key, Section& target) {
    if (!only_.empty()) return;
    const std::string path = join_path(prefix_, key);
    MovedEntries moved;
    if (const auto it = moved_down_.find(key); it != moved_down_.end()) moved = it->second;
    const auto entry = entries_.find(key);
    YAML::Node node;
    if (entry != entries_.end()) {
      node = entry->second.value;
      if (!node.IsNull() && !node.IsMap()) {
        fail(where_.at(entry->second.key), path,
             "expected a section (a map of keys), got " + describe_node(node));
      }
    }
    if (entry == entries_.end() || node.IsNull()) {  // absent, or `model:` with every key commented out
      if (moved.empty()) return;
      node = YAML::Node(YAML::NodeType::Map);
    }
    ParseVisitor(node, where_, path, origins_, std::move(moved)).parse(target);
  }

 private:
  std::string shown_path(const std::string& key, const Entry& entry) const {
    return entry.written_path.empty() ? join_path(prefix_, key) : entry.written_path;
  }

  // Duplicate keys and non-scalar keys are errors.
  void index_entries() {
    for (auto it = map_.begin(); it != map_.end(); ++it) {
      const YAML::Node key_node = it->first;
      const Where where = where_.at(key_node);
      if (!key_node.IsScalar()) {
        fail(where, prefix_.empty() ? "(top level)" : prefix_,
             "expected key names, got " + describe_node(key_node));
      }
      const std::string key = key_node.Scalar();
      const auto seen = entries_.find(key);
      if (seen != entries_.end()) {
        const Where first = where_.at(seen->second.key);
        fail(where, join_path(prefix_, key),
             first.line > 0 ? fmt::format("duplicate key (first given on line {})", first.line)
                            : std::string("duplicate key"));
      }
      entries_.emplace(key, Entry{key_node, it->second, ""});
    }
  }

  // A moved key's value goes to `path` (relative to this section): here, or to the section below
  // that holds it. The same key given in its new place as well is an error.
  void place(const std::string& path, const Entry& entry) {
    const size_t dot = path.find('.');
    if (dot != std::string::npos) {
      moved_down_[path.substr(0, dot)].emplace_back(path.substr(dot + 1), entry);
      return;
    }
    const auto seen = entries_.find(path);
    if (seen != entries_.end()) {
      const std::string new_path = join_path(prefix_, path);
      const Where other = where_.at(seen->second.key);
      fail(where_.at(entry.key), entry.written_path,
           fmt::format("is the old form of {}, which is given too{}: keep {} only", new_path,
                       other.line > 0 ? fmt::format(" (line {})", other.line) : std::string(), new_path));
    }
    entries_.emplace(path, entry);
  }

  // The older keys the section's table declares (FieldVisitor::moved) go to their new places.
  void read_moved_keys(Section& target) {
    for (const KeyInfo& k : keys_of(target)) {
      if (!k.moved) continue;
      const auto it = entries_.find(k.name);
      if (it == entries_.end()) continue;
      Entry entry = it->second;
      if (entry.written_path.empty()) entry.written_path = join_path(prefix_, k.name);
      entries_.erase(it);
      for (const std::string& path : k.new_paths) place(path, entry);
    }
  }

  // A section whose keys depend on its `type` (a part, lvm/nn/part_config.h) declares `type`
  // first: reading it first makes the section's table the chosen type's.
  void read_type_first(Section& target) {
    if (entries_.count("type") == 0) return;
    const std::vector<KeyInfo> known = keys_of(target);
    const auto type_key = std::find_if(known.begin(), known.end(),
                                       [](const KeyInfo& k) { return k.name == "type" && !k.section; });
    if (type_key == known.end()) return;
    only_ = "type";
    target.visit_fields(*this);
    only_.clear();
  }

  // The model's type decides which keys the rest of the section may hold.
  void select_model(ModelConfig& model) {
    const auto type_entry = entries_.find("type");
    if (type_entry != entries_.end()) {
      std::string type;
      read(type_entry->second.value, where_.at(type_entry->second.key), join_path(prefix_, "type"), type,
           one_of(registered_model_types()));
      model.set_type(type);
    }
    const bool flat = std::all_of(std::begin(kFlatModelKeys), std::end(kFlatModelKeys),
                                  [&](const char* key) { return entries_.count(key) > 0; });
    if (!flat) return;
    const std::vector<KeyInfo> known = keys_of(model);
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = is_known(it->first, known) ? std::next(it) : entries_.erase(it);
    }
  }

  const YAML::Node& map_;
  Where where_;
  std::string prefix_;
  Origins& origins_;
  MovedEntries moved_in_;
  std::map<std::string, Entry> entries_;
  std::map<std::string, MovedEntries> moved_down_;  // section key -> moved keys that belong there
  std::string only_;                                // non-empty: read this key only
};

// Applies one `a.b=v` override: walks the tables along the key path. An older key (moved) is
// applied at each of its new paths.
class OverrideVisitor : public TypedVisitor<OverrideVisitor> {
 public:
  OverrideVisitor(std::vector<std::string> keys, YAML::Node value, Where where, Origins& origins,
                  size_t depth = 0)
      : keys_(std::move(keys)),
        value_(std::move(value)),
        where_(std::move(where)),
        origins_(origins),
        depth_(depth) {}

  void apply(Section& target) {
    target.visit_fields(*this);
    if (!done_ && !moved_to_.empty()) {
      const std::vector<std::string> new_paths = std::move(moved_to_);
      moved_to_.clear();
      for (const std::string& new_path : new_paths) {
        std::vector<std::string> keys(keys_.begin(), keys_.begin() + static_cast<std::ptrdiff_t>(depth_));
        for (const std::string& key : split_path(new_path)) keys.push_back(key);
        OverrideVisitor(std::move(keys), value_, where_, origins_, depth_).apply(target);
      }
      done_ = true;
    }
    if (!done_) {
      fail_unknown(where_, path_to(depth_), keys_[depth_], keys_of(target), depth_ == 0 && keys_.size() > 1,
                   dynamic_cast<const ModelConfig*>(&target));
    }
  }

  template <typename T, typename Rule>
  void on_field(const char* key, T& value, const Rule& rule) {
    if (done_ || keys_[depth_] != key) return;
    const std::string path = path_to(depth_);
    if (depth_ + 1 != keys_.size()) fail(where_, path, "is a key, not a section");
    read(value_, where_, path, value, rule);
    origins_[path] = where_;
    done_ = true;
  }

  void on_section(const char* key, Section& target) {
    if (done_ || keys_[depth_] != key) return;
    const std::string path = path_to(depth_);
    if (depth_ + 1 == keys_.size()) {
      // A whole section at once: --set 'model={latent_dim: 20, k: 5}'.
      if (!value_.IsMap()) {
        fail(where_, path,
             "is a section: set one of its keys (" + path + ".KEY=VALUE) or give a map such as {KEY: VALUE}");
      }
      ParseVisitor(value_, where_, path, origins_).parse(target);
      done_ = true;
      return;
    }
    ++depth_;
    apply(target);
    --depth_;
  }

  void on_moved(const char* old_key, const std::vector<std::string>& new_paths) {
    if (done_ || keys_[depth_] != old_key) return;
    if (depth_ + 1 != keys_.size()) fail(where_, path_to(depth_), "is a key, not a section");
    moved_to_ = new_paths;  // applied once the table is visited (apply)
  }

 private:
  std::string path_to(size_t depth) const {
    std::string path;
    for (size_t i = 0; i <= depth; ++i) path = join_path(path, keys_[i]);
    return path;
  }

  std::vector<std::string> keys_;
  YAML::Node value_;
  Where where_;
  Origins& origins_;
  size_t depth_ = 0;
  bool done_ = false;
  std::vector<std::string> moved_to_;  // the new paths of the older key named at depth_
};

// Re-checks every field's rule; errors point at where the key was set, if known.
class ValidateVisitor : public TypedVisitor<ValidateVisitor>, public RuleContext {
 public:
  ValidateVisitor(const std::string& source, const Origins& origins) : source_(source), origins_(origins) {}

  template <typename T, typename Rule>
  void on_field(const char* key, T& value, const Rule& rule) {
    const std::string path = join_path(prefix_, key);
    check(value, rule, where(path), path);
  }

  void on_section(const char* key, Section& target) {
    const std::string saved = prefix_;
    prefix_ = join_path(prefix_, key);
    target.visit_fields(*this);
    prefix_ = saved;
  }

  Where where(const std::string& path) const {
    const auto it = origins_.find(path);
    return it != origins_.end() ? it->second : Where{source_};
  }

  [[noreturn]] void fail(const std::string& key_path, const std::string& what) const override {
    config::fail(where(key_path), key_path, what);
  }

 private:
  std::string source_;
  const Origins& origins_;
  std::string prefix_;
};

// Strings that every YAML reader takes as the same plain string; others are double-quoted.
bool is_safe_plain(const std::string& s) {
  if (s.empty()) return false;
  const char first = s.front();
  if (!(std::isalpha(static_cast<unsigned char>(first)) || first == '_' || first == '/')) return false;
  for (char ch : s) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.' || ch == '/' ||
          ch == ':')) {
      return false;
    }
  }
  if (s.back() == ':') return false;
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return std::tolower(ch); });
  // YAML 1.1 readers take these as booleans or null.
  for (const char* word : {"true", "false", "yes", "no", "on", "off", "y", "n", "null"}) {
    if (lower == word) return false;
  }
  return true;
}

class EmitVisitor : public TypedVisitor<EmitVisitor> {
 public:
  explicit EmitVisitor(YAML::Emitter& out) : out_(out) {}

  template <typename T, typename Rule>
  void on_field(const char* key, T& value, const Rule&) {
    out_ << YAML::Key << key << YAML::Value;
    emit(value);
  }

  void on_section(const char* key, Section& target) {
    out_ << YAML::Key << key << YAML::Value << YAML::BeginMap;
    target.visit_fields(*this);
    out_ << YAML::EndMap;
  }

 private:
  void emit(int64_t v) { out_ << v; }
  void emit(double v) { out_ << format_number(v); }
  void emit(bool v) { out_ << (v ? "true" : "false"); }
  void emit(const std::string& v) {
    if (is_safe_plain(v)) {
      out_ << v;
    } else {
      out_ << YAML::DoubleQuoted << v;
    }
  }
  void emit(const std::vector<int64_t>& v) {
    out_ << YAML::Flow << YAML::BeginSeq;
    for (int64_t x : v) out_ << x;
    out_ << YAML::EndSeq;
  }

  YAML::Emitter& out_;
};

// Every key path and value in table order, for equality and for comparing model sections.
class FlattenVisitor : public TypedVisitor<FlattenVisitor> {
 public:
  using Value = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>>;

  template <typename T, typename Rule>
  void on_field(const char* key, T& value, const Rule&) {
    values_.emplace_back(join_path(prefix_, key), value);
  }
  void on_section(const char* key, Section& target) {
    const std::string saved = prefix_;
    prefix_ = join_path(prefix_, key);
    target.visit_fields(*this);
    prefix_ = saved;
  }
  const std::vector<std::pair<std::string, Value>>& values() const { return values_; }

 private:
  std::string prefix_;
  std::vector<std::pair<std::string, Value>> values_;
};

// Every key path with its value as text.
class TextVisitor : public TypedVisitor<TextVisitor> {
 public:
  template <typename T, typename Rule>
  void on_field(const char* key, T& value, const Rule&) {
    entries_.emplace_back(join_path(prefix_, key), text(value));
  }
  void on_section(const char* key, Section& target) {
    const std::string saved = prefix_;
    prefix_ = join_path(prefix_, key);
    target.visit_fields(*this);
    prefix_ = saved;
  }
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  static std::string text(int64_t v) { return std::to_string(v); }
  static std::string text(double v) { return format_number(v); }
  static std::string text(bool v) { return v ? "true" : "false"; }
  static std::string text(const std::string& v) { return v; }
  static std::string text(const std::vector<int64_t>& v) { return fmt::format("[{}]", fmt::join(v, ", ")); }

  std::string prefix_;
  std::vector<std::pair<std::string, std::string>> entries_;
};

// ---------------------------------------------------------------------------------------------

void validate_impl(const ExperimentConfig& config, const std::string& source_name, const Origins& origins) {
  ExperimentConfig copy = config;  // the visitors take non-const references
  ValidateVisitor visitor(source_name, origins);
  copy.visit_fields(visitor);

  config.model.options().check(config, visitor);
  const TrainConfig& train = config.train;
  if (train.schedule == "cosine" && train.lr_min > train.lr) {
    visitor.fail(
        "train.lr_min",
        fmt::format("the cosine schedule decays from train.lr to train.lr_min, but lr_min {} > lr {}",
                    format_number(train.lr_min), format_number(train.lr)));
  }
}

void apply_override_impl(ExperimentConfig& config, const std::string& assignment, Origins& origins) {
  const Where where{"--set " + assignment};
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos) {
    throw ConfigError(fmt::format("{}: expected KEY.PATH=VALUE, e.g. --set train.lr=3e-4", where.str()));
  }
  std::string key_path = assignment.substr(0, eq);
  // Tolerate "train.lr = 3e-4" written with spaces.
  key_path.erase(key_path.find_last_not_of(" \t") + 1);
  key_path.erase(0, std::min(key_path.find_first_not_of(" \t"), key_path.size()));
  std::vector<std::string> keys = split_path(key_path);
  if (keys.empty() || key_path.back() == '.' ||
      std::any_of(keys.begin(), keys.end(), [](const std::string& k) { return k.empty(); })) {
    throw ConfigError(fmt::format("{}: malformed key path '{}'", where.str(), key_path));
  }
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    fail(where, key_path, "the value is not valid YAML: " + e.msg);
  }
  OverrideVisitor(std::move(keys), value, where, origins).apply(config);
}

}  // namespace

bool is_vector_dataset(const DataConfig& data) {
  return data.dataset == "synthetic" || data.dataset == "csv";
}

std::string ExperimentConfig::resolved_run_dir() const {
  return output.run_dir.empty() ? "runs/" + name : output.run_dir;
}

std::vector<std::pair<std::string, std::string>> model_key_values(const ModelConfig& model) {
  ModelConfig copy = model;  // the visitors take non-const references
  TextVisitor visitor;
  copy.visit_fields(visitor);
  return visitor.entries();
}

bool operator==(const ExperimentConfig& a, const ExperimentConfig& b) {
  ExperimentConfig copy_a = a;
  ExperimentConfig copy_b = b;
  FlattenVisitor flat_a;
  FlattenVisitor flat_b;
  copy_a.visit_fields(flat_a);
  copy_b.visit_fields(flat_b);
  return flat_a.values() == flat_b.values();
}

bool operator!=(const ExperimentConfig& a, const ExperimentConfig& b) { return !(a == b); }

ExperimentConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw ConfigError(path + ": is a directory, not a config file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("{}: cannot open config file: {}", path, std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(fmt::format("{}: cannot read config file", path));
  return parse_config(text.str(), path, overrides);
}

ExperimentConfig parse_config(const std::string& yaml_text, const std::string& source_name,
                              const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    const Where where{source_name, e.mark.line >= 0 ? e.mark.line + 1 : 0};
    throw ConfigError(fmt::format("{}: YAML syntax error: {}", where.str(), e.msg));
  }
  ExperimentConfig config;
  Origins origins;
  const Where where{source_name, 0, true};
  if (!root.IsNull()) {  // an empty file means all defaults
    if (!root.IsMap()) {
      throw ConfigError(fmt::format("{}: expected a map of keys and sections at the top level, got {}",
                                    where.at(root).str(), describe_node(root)));
    }
    ParseVisitor(root, where, "", origins).parse(config);
  }
  // Overrides are validated together at the end: one may need another (e.g. binarize and
  // bernoulli_on_grey) to be valid.
  for (const std::string& assignment : overrides) apply_override_impl(config, assignment, origins);
  validate_impl(config, source_name, origins);
  return config;
}

void apply_override(ExperimentConfig& config, const std::string& assignment) {
  Origins origins;
  ExperimentConfig updated = config;  // leave `config` untouched on error
  apply_override_impl(updated, assignment, origins);
  validate_impl(updated, "--set " + assignment, origins);
  config = std::move(updated);
}

void validate(const ExperimentConfig& config, const std::string& source_name) {
  validate_impl(config, source_name, Origins{});
}

std::string to_yaml(const ExperimentConfig& config) {
  ExperimentConfig copy = config;  // the visitors take non-const references
  YAML::Emitter out;
  out << YAML::BeginMap;
  EmitVisitor visitor(out);
  copy.visit_fields(visitor);
  out << YAML::EndMap;
  // A blank line before each section, for the reader; section headers are the only top-level
  // lines that end in ':' (a string value ending in ':' is quoted).
  std::istringstream lines(out.c_str());
  std::string text;
  for (std::string line; std::getline(lines, line);) {
    if (!text.empty() && !line.empty() && line[0] != ' ' && line.back() == ':') text += '\n';
    text += line + '\n';
  }
  return text;
}

}  // namespace lvm::config
