#include "lvm/util/json.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace lvm::util {

Json Json::object() {
  Json j;
  j.value_ = std::make_shared<Object>();
  return j;
}

Json Json::array() {
  Json j;
  j.value_ = std::make_shared<Array>();
  return j;
}

Json& Json::set(const std::string& key, Json value) {
  auto* object = std::get_if<std::shared_ptr<Object>>(&value_);
  if (object == nullptr) throw std::logic_error("Json::set on a value that is not an object");
  for (auto& [k, v] : **object) {
    if (k == key) {
      v = std::move(value);
      return *this;
    }
  }
  (*object)->emplace_back(key, std::move(value));
  return *this;
}

Json& Json::push(Json value) {
  auto* array = std::get_if<std::shared_ptr<Array>>(&value_);
  if (array == nullptr) throw std::logic_error("Json::push on a value that is not an array");
  (*array)->push_back(std::move(value));
  return *this;
}

namespace {
void quote(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}
}  // namespace

void Json::dump_to(std::string& out, int indent, int depth) const {
  const auto newline = [&](int d) {
    if (indent > 0) {
      out += '\n';
      out.append(static_cast<size_t>(indent * d), ' ');
    }
  };
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) {
          out += "null";
        } else if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          out += std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          out += std::isfinite(v) ? fmt::format("{}", v) : "null";
        } else if constexpr (std::is_same_v<T, std::string>) {
          quote(out, v);
        } else if constexpr (std::is_same_v<T, std::shared_ptr<Object>>) {
          out += '{';
          for (size_t i = 0; i < v->size(); ++i) {
            if (i > 0) out += ',';
            newline(depth + 1);
            quote(out, (*v)[i].first);
            out += indent > 0 ? ": " : ":";
            (*v)[i].second.dump_to(out, indent, depth + 1);
          }
          if (!v->empty()) newline(depth);
          out += '}';
        } else {
          out += '[';
          for (size_t i = 0; i < v->size(); ++i) {
            if (i > 0) out += indent > 0 ? ", " : ",";
            (*v)[i].dump_to(out, 0, depth + 1);
          }
          out += ']';
        }
      },
      value_);
}

std::string Json::dump(int indent) const {
  std::string out;
  dump_to(out, indent, 0);
  out += '\n';
  return out;
}

}  // namespace lvm::util
