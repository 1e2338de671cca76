#pragma once
// The field-table machinery of the experiment config, open to code outside config.cpp: a section
// of the config (lvm's own, or a model's options, lvm/models/registry.h) declares its keys once,
// in visit_fields, each with the rule its values must follow; parsing, `--set` overrides,
// validation, YAML output and equality are all FieldVisitors run over that one table.
//
//   struct MyOptions : lvm::config::Section {
//     int64_t width = 64;
//     std::string mode = "fast";
//     void visit_fields(lvm::config::FieldVisitor& v) override {
//       v.field("width", width, lvm::config::at_least(1));
//       v.choice("mode", mode, {"fast", "exact"});
//       v.moved("size", {"width"});  // an older name of `width`, still read
//     }
//   };

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace lvm::config {

/// A numeric range, inclusive or open at either end. The bounds are doubles so that one type
/// serves integer and real fields (the bounds in use are small: the int64 -> double conversion
/// is exact).
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool hi_open = false;

  bool contains(double x) const;
  /// "" (unbounded), ">= 1", "> 0", "in (0, 1]".
  std::string describe() const;
};

Range any_number();
Range at_least(double lo);
Range greater_than(double lo);
Range open_interval(double lo, double hi);       // (lo, hi)
Range left_open_interval(double lo, double hi);  // (lo, hi]
Range closed_interval(double lo, double hi);     // [lo, hi]

/// What a string field accepts, and how to say so in an error ("one of vae|gmm").
struct StringRule {
  std::function<bool(const std::string&)> ok;  // empty: any string
  std::string expected = "a string";
};

StringRule any_string();
StringRule non_empty();
StringRule one_of(const std::vector<std::string>& choices);

class Section;

/// One pass over a section's table. The overloads are the value types a key may have.
class FieldVisitor {
 public:
  virtual ~FieldVisitor() = default;
  virtual void field(const char* key, int64_t& value, const Range& rule) = 0;
  virtual void field(const char* key, double& value, const Range& rule) = 0;
  virtual void field(const char* key, bool& value) = 0;
  virtual void field(const char* key, std::string& value, const StringRule& rule) = 0;
  /// A list of integers (e.g. layer widths); the rule applies to each element.
  virtual void field(const char* key, std::vector<int64_t>& value, const Range& rule) = 0;
  /// A nested map of keys. A section whose keys depend on its `type` (a part, lvm/nn/part_config.h)
  /// declares `type` first and then the keys of the type it holds: parsing reads `type` before it
  /// checks the other keys.
  virtual void section(const char* key, Section& value) = 0;
  /// A key of an older form of this section, accepted on input only (a file, a `--set`): its value
  /// is read as if it were given at each of `new_paths` (key paths inside this section, such as
  /// "encoder.hidden"). It is never written, compared or listed among the known keys; giving it
  /// together with a key it moved to is an error that says which to keep. Visitors other than
  /// the readers ignore it.
  virtual void moved(const char* old_key, const std::vector<std::string>& new_paths) {}

  /// A string key whose value is one of `choices`.
  void choice(const char* key, std::string& value, const std::vector<std::string>& choices) {
    field(key, value, one_of(choices));
  }
};

/// A map of keys in the config: a struct with its defaults in its members and its table in
/// visit_fields.
class Section {
 public:
  virtual ~Section() = default;
  virtual void visit_fields(FieldVisitor& v) = 0;

 protected:
  Section() = default;
  Section(const Section&) = default;
  Section& operator=(const Section&) = default;
};

}  // namespace lvm::config
