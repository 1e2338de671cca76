#pragma once
// A small JSON writer for the run directory's summary.json and eval.json: objects keep the
// order keys were added in, numbers print exactly (shortest round-trip form), non-finite
// numbers become null (JSON has no NaN).

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace lvm::util {

class Json {
 public:
  Json() : value_(nullptr) {}
  Json(double v) : value_(v) {}                     // NOLINT(google-explicit-constructor)
  Json(int v) : value_(static_cast<int64_t>(v)) {}  // NOLINT
  Json(int64_t v) : value_(v) {}                    // NOLINT
  Json(bool v) : value_(v) {}                       // NOLINT
  Json(std::string v) : value_(std::move(v)) {}     // NOLINT
  Json(const char* v) : value_(std::string(v)) {}   // NOLINT

  static Json object();
  static Json array();

  /// Adds (or replaces) a key of an object; returns *this for chaining.
  Json& set(const std::string& key, Json value);
  /// Appends to an array.
  Json& push(Json value);

  std::string dump(int indent = 2) const;

 private:
  using Object = std::vector<std::pair<std::string, Json>>;
  using Array = std::vector<Json>;
  void dump_to(std::string& out, int indent, int depth) const;
  std::variant<std::nullptr_t, bool, int64_t, double, std::string, std::shared_ptr<Object>,
               std::shared_ptr<Array>>
      value_;
};

}  // namespace lvm::util
