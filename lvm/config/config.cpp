#include "lvm/config/config.h"

#include <fmt/format.h>
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

namespace lvm::config {
namespace {

// ---------------------------------------------------------------------------------------------
// Rules: what a field accepts, worded for error messages.

// A numeric range. The bounds are doubles so that one type serves integer and real fields (the
// bounds used are small, where the int64 -> double conversion is exact).
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool hi_open = false;

  bool contains(double x) const {
    const bool above = lo_open ? x > lo : x >= lo;
    const bool below = hi_open ? x < hi : x <= hi;
    return above && below;
  }
  // "" (unbounded), ">= 1", "> 0", "in (0, 1]".
  std::string describe() const {
    const bool has_lo = std::isfinite(lo);
    const bool has_hi = std::isfinite(hi);
    if (has_lo && has_hi) {
      return fmt::format("in {}{}, {}{}", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
    }
    if (has_lo) return fmt::format("{} {}", lo_open ? ">" : ">=", lo);
    if (has_hi) return fmt::format("{} {}", hi_open ? "<" : "<=", hi);
    return "";
  }
};

Range at_least(double lo) { return Range{lo, std::numeric_limits<double>::infinity(), false, false}; }
Range greater_than(double lo) { return Range{lo, std::numeric_limits<double>::infinity(), true, false}; }
Range open_interval(double lo, double hi) { return Range{lo, hi, true, true}; }
Range left_open_interval(double lo, double hi) { return Range{lo, hi, true, false}; }  // (lo, hi]

struct StringRule {
  std::function<bool(const std::string&)> ok;  // empty: any string
  std::string expected = "a string";
};

StringRule non_empty() {
  return {[](const std::string& s) { return !s.empty(); }, "a non-empty string"};
}

StringRule one_of(const std::vector<std::string>& choices) {
  return {[choices](const std::string& s) {
            return std::find(choices.begin(), choices.end(), s) != choices.end();
          },
          fmt::format("one of {}", fmt::join(choices, "|"))};
}

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

struct NoRule {};

// The rule type each field type takes; a field of any other type fails to compile here.
template <typename T>
struct RuleOf;
template <>
struct RuleOf<int64_t> {
  using type = Range;
};
template <>
struct RuleOf<double> {
  using type = Range;
};
template <>
struct RuleOf<bool> {
  using type = NoRule;
};
template <>
struct RuleOf<std::string> {
  using type = StringRule;
};
template <>
struct RuleOf<std::vector<int64_t>> {
  using type = Range;  // applies to each element
};
template <typename T>
using RuleFor = typename RuleOf<T>::type;

// Gives every visitor `choice`, a string field whose rule is a list of values.
template <typename Derived>
struct VisitorBase {
  void choice(const char* key, std::string& value, const std::vector<std::string>& choices) {
    static_cast<Derived*>(this)->field(key, value, one_of(choices));
  }
};

// ---------------------------------------------------------------------------------------------
// The field tables: the one place each key is declared. Parsing, overrides, validation, YAML
// output and equality are all visitors over these.

template <typename V>
void visit_fields(V& v, ModelConfig& c) {
  v.choice("type", c.type, {"vae", "gmm"});
  v.field("latent_dim", c.latent_dim, at_least(1));
  v.field("encoder_hidden", c.encoder_hidden, at_least(1));
  v.field("decoder_hidden", c.decoder_hidden, at_least(1));
  v.choice("activation", c.activation, {"tanh", "relu", "elu", "softplus"});
  v.choice("likelihood", c.likelihood, {"bernoulli", "gaussian"});
  v.choice("objective", c.objective, {"elbo", "iwae", "exact"});
  v.field("k", c.k, at_least(1));
  v.choice("kl", c.kl, {"analytic", "mc"});
  v.choice("iwae_gradient", c.iwae_gradient, {"standard", "dreg"});
  v.field("components", c.components, at_least(1));
  v.choice("covariance", c.covariance, {"full", "diag", "spherical"});
  v.field("reg_covar", c.reg_covar, greater_than(0));
  v.choice("fit", c.fit, {"em", "gradient"});
  v.field("em_max_steps", c.em_max_steps, at_least(1));
  v.field("em_tol", c.em_tol, at_least(0));
  v.choice("init", c.init, {"kmeans++", "random"});
  v.field("n_init", c.n_init, at_least(1));
}

template <typename V>
void visit_fields(V& v, DataConfig& c) {
  v.choice("dataset", c.dataset, {"mnist", "fashion_mnist", "synthetic", "csv"});
  v.field("path", c.path, non_empty());
  v.choice("binarize", c.binarize, {"none", "dynamic", "static"});
  v.field("validation_size", c.validation_size, at_least(0));
  v.field("train_limit", c.train_limit, at_least(0));
  v.field("test_limit", c.test_limit, at_least(0));
  v.field("bernoulli_on_grey", c.bernoulli_on_grey);
  v.choice("synthetic", c.synthetic, {"ring", "circles", "pinwheel"});
  v.field("n_train", c.n_train, at_least(1));
  v.field("n_test", c.n_test, at_least(0));
  v.field("noise", c.noise, at_least(0));
  v.field("test_path", c.test_path);
  v.field("test_fraction", c.test_fraction, Range{0, 1, false, true});
  v.field("pca_dim", c.pca_dim, at_least(0));
}

template <typename V>
void visit_fields(V& v, TrainConfig& c) {
  v.field("epochs", c.epochs, at_least(1));
  v.field("batch_size", c.batch_size, at_least(1));
  v.field("lr", c.lr, greater_than(0));
  v.field("beta1", c.beta1, open_interval(0, 1));
  v.field("beta2", c.beta2, open_interval(0, 1));
  v.field("eps", c.eps, greater_than(0));
  v.choice("schedule", c.schedule, {"none", "step", "exponential", "cosine"});
  v.field("step_size", c.step_size, at_least(1));
  v.field("gamma", c.gamma, left_open_interval(0, 1));
  v.field("lr_min", c.lr_min, at_least(0));
  v.field("grad_clip", c.grad_clip, at_least(0));
  v.field("seed", c.seed, at_least(0));
  v.field("eval_batch_size", c.eval_batch_size, at_least(1));
  v.choice("on_nonfinite", c.on_nonfinite, {"stop", "skip"});
  v.field("max_skips_in_a_row", c.max_skips_in_a_row, at_least(1));
  v.field("checkpoint_every", c.checkpoint_every, at_least(0));
}

template <typename V>
void visit_fields(V& v, OutputConfig& c) {
  v.field("run_dir", c.run_dir);
  v.choice("progress", c.progress, {"auto", "bar", "lines", "none"});
  v.field("image_every", c.image_every, at_least(0));
}

template <typename V>
void visit_fields(V& v, ExperimentConfig& c) {
  v.field("name", c.name, non_empty());
  v.field("device", c.device, device_spec());
  v.field("threads", c.threads, at_least(0));
  v.field("torch_threads", c.torch_threads, at_least(0));
  v.field("blas_threads", c.blas_threads, at_least(0));
  v.section("model", c.model);
  v.section("data", c.data);
  v.section("train", c.train);
  v.section("output", c.output);
}

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
};

// Collects the key names of one struct's table.
class KeyCollector : public VisitorBase<KeyCollector> {
 public:
  template <typename T>
  void field(const char* key, T&, const RuleFor<T>& = {}) {
    keys_.push_back({key, false});
  }
  template <typename S>
  void section(const char* key, S&) {
    keys_.push_back({key, true});
  }
  std::vector<KeyInfo> keys() const { return keys_; }

 private:
  std::vector<KeyInfo> keys_;
};

template <typename S>
std::vector<KeyInfo> keys_of() {
  S scratch;
  KeyCollector collector;
  visit_fields(collector, scratch);
  return collector.keys();
}

bool is_known(const std::string& key, const std::vector<KeyInfo>& known) {
  return std::any_of(known.begin(), known.end(), [&](const KeyInfo& k) { return k.name == key; });
}

[[noreturn]] void fail_unknown(const Where& where, const std::string& key_path, const std::string& key,
                               const std::vector<KeyInfo>& known, bool as_section) {
  const KeyInfo* best = nullptr;
  size_t best_distance = 3;  // suggest only within distance 2
  for (const KeyInfo& k : known) {
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
    for (const KeyInfo& k : known) names.push_back(k.name);
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

// Reads one YAML map into a struct: unknown and duplicate keys are errors, absent keys keep
// their defaults.
class ParseVisitor : public VisitorBase<ParseVisitor> {
 public:
  ParseVisitor(const YAML::Node& map, Where where, std::string prefix, Origins& origins)
      : map_(map), where_(std::move(where)), prefix_(std::move(prefix)), origins_(origins) {}

  template <typename S>
  void parse(S& target) {
    // Index the entries first so that a misspelt key is reported even if a later value is bad.
    const std::vector<KeyInfo> known = keys_of<S>();
    for (auto it = map_.begin(); it != map_.end(); ++it) {
      const YAML::Node key_node = it->first;
      const Where where = where_.at(key_node);
      if (!key_node.IsScalar()) {
        fail(where, prefix_.empty() ? "(top level)" : prefix_,
             "expected key names, got " + describe_node(key_node));
      }
      const std::string key = key_node.Scalar();
      const std::string path = join_path(prefix_, key);
      const auto seen = entries_.find(key);
      if (seen != entries_.end()) {
        const Where first = where_.at(seen->second.first);
        fail(where, path,
             first.line > 0 ? fmt::format("duplicate key (first given on line {})", first.line)
                            : std::string("duplicate key"));
      }
      if (!is_known(key, known)) fail_unknown(where, path, key, known, prefix_.empty() && it->second.IsMap());
      entries_.emplace(key, std::make_pair(key_node, it->second));
    }
    visit_fields(*this, target);
  }

  template <typename T>
  void field(const char* key, T& value, const RuleFor<T>& rule = {}) {
    const auto entry = entries_.find(key);
    if (entry == entries_.end()) return;
    const Where where = where_.at(entry->second.first);
    const std::string path = join_path(prefix_, key);
    read(entry->second.second, where, path, value, rule);
    origins_[path] = where;
  }

  template <typename S>
  void section(const char* key, S& target) {
    const auto entry = entries_.find(key);
    if (entry == entries_.end()) return;
    const YAML::Node& node = entry->second.second;
    if (node.IsNull()) return;  // `model:` with every key commented out
    const std::string path = join_path(prefix_, key);
    if (!node.IsMap()) {
      fail(where_.at(entry->second.first), path,
           "expected a section (a map of keys), got " + describe_node(node));
    }
    ParseVisitor(node, where_, path, origins_).parse(target);
  }

 private:
  const YAML::Node& map_;
  Where where_;
  std::string prefix_;
  Origins& origins_;
  std::map<std::string, std::pair<YAML::Node, YAML::Node>> entries_;  // key -> (key node, value)
};

// Applies one `a.b=v` override: walks the tables along the key path.
class OverrideVisitor : public VisitorBase<OverrideVisitor> {
 public:
  OverrideVisitor(std::vector<std::string> keys, YAML::Node value, Where where, Origins& origins)
      : keys_(std::move(keys)), value_(std::move(value)), where_(std::move(where)), origins_(origins) {}

  template <typename S>
  void apply(S& target) {
    visit_fields(*this, target);
    if (!done_) {
      fail_unknown(where_, path_to(depth_), keys_[depth_], keys_of<S>(), depth_ == 0 && keys_.size() > 1);
    }
  }

  template <typename T>
  void field(const char* key, T& value, const RuleFor<T>& rule = {}) {
    if (done_ || keys_[depth_] != key) return;
    const std::string path = path_to(depth_);
    if (depth_ + 1 != keys_.size()) fail(where_, path, "is a key, not a section");
    read(value_, where_, path, value, rule);
    origins_[path] = where_;
    done_ = true;
  }

  template <typename S>
  void section(const char* key, S& target) {
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
};

// Re-checks every field's rule; errors point at where the key was set, if known.
class ValidateVisitor : public VisitorBase<ValidateVisitor> {
 public:
  ValidateVisitor(const std::string& source, const Origins& origins) : source_(source), origins_(origins) {}

  template <typename T>
  void field(const char* key, T& value, const RuleFor<T>& rule = {}) {
    const std::string path = join_path(prefix_, key);
    check(value, rule, where(path), path);
  }

  template <typename S>
  void section(const char* key, S& target) {
    const std::string saved = prefix_;
    prefix_ = join_path(prefix_, key);
    visit_fields(*this, target);
    prefix_ = saved;
  }

  Where where(const std::string& path) const {
    const auto it = origins_.find(path);
    return it != origins_.end() ? it->second : Where{source_};
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

class EmitVisitor : public VisitorBase<EmitVisitor> {
 public:
  explicit EmitVisitor(YAML::Emitter& out) : out_(out) {}

  template <typename T>
  void field(const char* key, T& value, const RuleFor<T>& = {}) {
    out_ << YAML::Key << key << YAML::Value;
    emit(value);
  }

  template <typename S>
  void section(const char* key, S& target) {
    out_ << YAML::Key << key << YAML::Value << YAML::BeginMap;
    visit_fields(*this, target);
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

// Every value in table order, for equality.
class FlattenVisitor : public VisitorBase<FlattenVisitor> {
 public:
  using Value = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>>;

  template <typename T>
  void field(const char*, T& value, const RuleFor<T>& = {}) {
    values_.emplace_back(value);
  }
  template <typename S>
  void section(const char*, S& target) {
    visit_fields(*this, target);
  }
  const std::vector<Value>& values() const { return values_; }

 private:
  std::vector<Value> values_;
};

// ---------------------------------------------------------------------------------------------

void validate_impl(const ExperimentConfig& config, const std::string& source_name, const Origins& origins) {
  ExperimentConfig copy = config;  // the visitors take non-const references
  ValidateVisitor visitor(source_name, origins);
  visit_fields(visitor, copy);

  const ModelConfig& model = config.model;
  const DataConfig& data = config.data;
  const TrainConfig& train = config.train;
  if (model.iwae_gradient == "dreg" && model.objective != "iwae") {
    fail(visitor.where("model.iwae_gradient"), "model.iwae_gradient",
         fmt::format(
             "dreg (doubly reparameterised gradients) is an estimator of the IWAE bound's gradient and "
             "needs model.objective: iwae, got '{}'",
             model.objective));
  }
  if (model.type == "vae" && model.likelihood == "bernoulli" && data.binarize == "none" &&
      !data.bernoulli_on_grey) {
    fail(visitor.where("data.binarize"), "data.binarize",
         "none with model.likelihood: bernoulli: a Bernoulli likelihood on grey levels in [0,1] is a "
         "cross-entropy, "
         "not a likelihood (it is not normalised over the grey values, so its log-likelihood cannot be "
         "compared "
         "with published results); binarise the data (data.binarize: dynamic or static), use "
         "model.likelihood: "
         "gaussian, or set data.bernoulli_on_grey: true to train on grey levels anyway");
  }
  const bool gmm = model.type == "gmm";
  if (gmm && model.objective != "exact") {
    fail(visitor.where("model.objective"), "model.objective",
         fmt::format("model.type gmm is trained on its exact log-likelihood (by EM or by gradient): set "
                     "model.objective: exact, got '{}'",
                     model.objective));
  }
  if (!gmm && model.objective == "exact") {
    fail(visitor.where("model.objective"), "model.objective",
         fmt::format("exact needs a model whose log p(x) is tractable (model.type: gmm); a {} is trained on "
                     "a bound: elbo or iwae",
                     model.type));
  }
  if (gmm && model.n_init > 1 && model.fit != "em") {
    fail(visitor.where("model.n_init"), "model.n_init",
         fmt::format("several initialisations (n_init {}) are for model.fit: em; a gradient fit starts once",
                     model.n_init));
  }
  const bool vector_data = data.dataset == "synthetic" || data.dataset == "csv";
  if (!gmm && vector_data) {
    fail(visitor.where("data.dataset"), "data.dataset",
         fmt::format("{} data are vectors for model.type: gmm; a {} trains on images (mnist, fashion_mnist)",
                     data.dataset, model.type));
  }
  if (!gmm && data.pca_dim > 0) {
    fail(visitor.where("data.pca_dim"), "data.pca_dim",
         fmt::format("PCA projection is applied for model.type: gmm only, not for a {}", model.type));
  }
  if (gmm && !vector_data && data.binarize == "dynamic") {
    fail(visitor.where("data.binarize"), "data.binarize",
         "dynamic binarisation redraws the data every epoch, which a Gaussian mixture fitted by EM cannot "
         "use: set data.binarize: none (grey levels) or static");
  }
  if (train.schedule == "cosine" && train.lr_min > train.lr) {
    fail(visitor.where("train.lr_min"), "train.lr_min",
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
  std::vector<std::string> keys;
  std::stringstream stream(key_path);
  for (std::string key; std::getline(stream, key, '.');) keys.push_back(key);
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

std::string ExperimentConfig::resolved_run_dir() const {
  return output.run_dir.empty() ? "runs/" + name : output.run_dir;
}

bool operator==(const ExperimentConfig& a, const ExperimentConfig& b) {
  ExperimentConfig copy_a = a;
  ExperimentConfig copy_b = b;
  FlattenVisitor flat_a;
  FlattenVisitor flat_b;
  visit_fields(flat_a, copy_a);
  visit_fields(flat_b, copy_b);
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
  visit_fields(visitor, copy);
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
