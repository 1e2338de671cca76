#include "lvm/data/npy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "lvm/util/files.h"

namespace lvm::data {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// A header longer than this is not an array description (NumPy itself refuses beyond 10,000).
constexpr uint32_t kMaxHeaderBytes = 1 << 16;
// Data beyond this is refused as corrupt rather than allocated.
constexpr uint64_t kMaxDataBytes = uint64_t{1} << 36;
constexpr int kMaxDims = 8;

struct Dtype {
  const char* descr;  // as written; '|' or '<' byte order
  torch::ScalarType type;
};

constexpr std::array<Dtype, 7> kDtypes = {{
    {"|u1", torch::kUInt8},
    {"|i1", torch::kInt8},
    {"<i2", torch::kInt16},
    {"<i4", torch::kInt32},
    {"<i8", torch::kInt64},
    {"<f4", torch::kFloat32},
    {"<f8", torch::kFloat64},
}};

std::string known_descrs() {
  std::string out;
  for (const auto& d : kDtypes) out += (out.empty() ? "" : ", ") + std::string(d.descr);
  return out;
}

const Dtype* dtype_of_descr(std::string descr) {
  // NumPy writes byte-sized types with '|'; some writers use '<' or '=' for them, and '=' is
  // native order, little-endian on every host lvm builds for.
  if (descr.size() == 3 && (descr[0] == '=' || (descr[0] == '<' && descr[2] == '1'))) {
    descr[0] = descr[2] == '1' ? '|' : '<';
  }
  for (const auto& d : kDtypes)
    if (descr == d.descr) return &d;
  return nullptr;
}

[[noreturn]] void fail(const std::string& path, const std::string& fault) {
  throw DataError(path + ": " + fault);
}

// A cursor over the header's dict literal; every failure names the file and what was expected.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  void skip_space() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }
  bool accept(char c) {
    skip_space();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  void expect(char c, const std::string& what) {
    if (!accept(c)) error("expected " + what);
  }
  std::string string_literal() {
    skip_space();
    if (at_ >= text_.size() || (text_[at_] != '\'' && text_[at_] != '"')) error("expected a quoted string");
    const char quote = text_[at_++];
    const size_t end = text_.find(quote, at_);
    if (end == std::string::npos) error("unterminated string");
    std::string value = text_.substr(at_, end - at_);
    at_ = end + 1;
    return value;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      const size_t n = std::strlen(word);
      if (text_.compare(at_, n, word) == 0) {
        at_ += n;
        return value;
      }
    }
    error("expected True or False");
  }
  // (N, H, W), (N,) or ()
  std::vector<int64_t> shape() {
    expect('(', "'(' to open the shape");
    std::vector<int64_t> dims;
    while (!accept(')')) {
      if (!dims.empty()) {
        expect(',', "',' between shape entries");
        if (accept(')')) break;  // (N,) has a trailing comma
      }
      skip_space();
      if (at_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[at_])))
        error("expected a non-negative integer in the shape");
      uint64_t value = 0;
      while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) {
        value = value * 10 + static_cast<uint64_t>(text_[at_++] - '0');
        if (value > kMaxDataBytes) error("a shape entry is larger than any array lvm reads");
      }
      dims.push_back(static_cast<int64_t>(value));
      if (dims.size() > kMaxDims) error("more than " + std::to_string(kMaxDims) + " dimensions");
    }
    return dims;
  }
  bool at_end() {
    skip_space();
    return at_ == text_.size();
  }
  [[noreturn]] void error(const std::string& what) const {
    fail(path_, "bad .npy header: " + what + " at offset " + std::to_string(at_) + " of '" + text_ + "'");
  }

 private:
  const std::string& path_;
  const std::string& text_;
  size_t at_ = 0;
};

struct Header {
  const Dtype* dtype = nullptr;
  std::vector<int64_t> shape;
};

Header parse_header(const std::string& path, const std::string& text) {
  HeaderParser p(path, text);
  Header header;
  bool have_descr = false, have_order = false, have_shape = false;
  p.expect('{', "'{' to open the header dict");
  while (!p.accept('}')) {
    if (have_descr || have_order || have_shape) {
      p.expect(',', "',' between header entries");
      if (p.accept('}')) break;
    }
    const std::string key = p.string_literal();
    p.expect(':', "':' after the key '" + key + "'");
    if (key == "descr" && !have_descr) {
      const std::string descr = p.string_literal();
      header.dtype = dtype_of_descr(descr);
      if (header.dtype == nullptr) {
        fail(path, "unsupported dtype '" + descr + "' (lvm reads " + known_descrs() +
                       "; big-endian and structured arrays are not read: convert with "
                       "numpy's astype and ascontiguousarray)");
      }
      have_descr = true;
    } else if (key == "fortran_order" && !have_order) {
      if (p.boolean()) {
        fail(path,
             "the array is in Fortran (column-major) order; save it in C order (numpy.ascontiguousarray)");
      }
      have_order = true;
    } else if (key == "shape" && !have_shape) {
      header.shape = p.shape();
      have_shape = true;
    } else {
      p.error("unexpected or repeated key '" + key + "' (a .npy header holds descr, fortran_order, shape)");
    }
  }
  if (!p.at_end()) p.error("text after the header dict");
  if (!have_descr || !have_order || !have_shape)
    p.error(std::string("missing key '") +
            (!have_descr   ? "descr"
             : !have_order ? "fortran_order"
                           : "shape") +
            "'");
  return header;
}

uint32_t little_endian(const unsigned char* bytes, size_t n) {
  uint32_t value = 0;
  for (size_t i = n; i-- > 0;) value = (value << 8) | bytes[i];
  return value;
}

}  // namespace

torch::Tensor read_npy(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not a .npy file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  unsigned char preamble[12] = {};
  in.read(reinterpret_cast<char*>(preamble), 8);
  if (in.gcount() < 8 || std::memcmp(preamble, kMagic, kMagicSize) != 0)
    fail(path, "not a .npy file (it does not start with \\x93NUMPY)");
  const int major = preamble[6];
  if (major < 1 || major > 3)
    fail(path, "unsupported .npy version " + std::to_string(major) + "." + std::to_string(preamble[7]) +
                   " (lvm reads 1.0, 2.0 and 3.0)");
  const size_t length_bytes = major == 1 ? 2 : 4;
  in.read(reinterpret_cast<char*>(preamble + 8), static_cast<std::streamsize>(length_bytes));
  if (static_cast<size_t>(in.gcount()) < length_bytes)
    fail(path, "truncated: the file ends inside the preamble");
  const uint32_t header_bytes = little_endian(preamble + 8, length_bytes);
  if (header_bytes > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(header_bytes) + " is beyond any array description");
  std::string text(header_bytes, '\0');
  in.read(text.data(), header_bytes);
  if (static_cast<uint32_t>(in.gcount()) < header_bytes)
    fail(path, "truncated: the header promises " + std::to_string(header_bytes) + " bytes, the file has " +
                   std::to_string(in.gcount()));
  // NumPy ends the header with '\n'; a NUL or other byte there would not be a text header.
  if (text.find('\0') != std::string::npos) fail(path, "bad .npy header: it holds a NUL byte");
  const Header header = parse_header(path, text);

  const int64_t element = static_cast<int64_t>(c10::elementSize(header.dtype->type));
  uint64_t count = 1;
  for (const int64_t d : header.shape) {
    count *= static_cast<uint64_t>(d);
    if (count * static_cast<uint64_t>(element) > kMaxDataBytes)
      fail(path, "the shape promises more than " + std::to_string(kMaxDataBytes >> 30) + " GiB of data");
  }
  const uint64_t data_bytes = count * static_cast<uint64_t>(element);
  // The payload's length is checked against the file before allocating: a short file whose header
  // promises gigabytes must be refused, not allocated.
  const uint64_t data_start = static_cast<uint64_t>(in.tellg());
  const uint64_t file_bytes = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot read its size: " + ec.message());
  const uint64_t have = file_bytes > data_start ? file_bytes - data_start : 0;
  if (have < data_bytes)
    fail(path, "truncated: the header promises " + std::to_string(data_bytes) +
                   " bytes of data, the file has " + std::to_string(have));
  if (have > data_bytes)
    fail(path,
         "trailing bytes after the " + std::to_string(data_bytes) + " bytes of data the header promises");
  auto array = torch::empty(header.shape, torch::TensorOptions().dtype(header.dtype->type));
  if (data_bytes > 0) in.read(static_cast<char*>(array.data_ptr()), static_cast<std::streamsize>(data_bytes));
  if (data_bytes > 0 && static_cast<uint64_t>(in.gcount()) < data_bytes)
    fail(path, "read only " + std::to_string(in.gcount()) + " of the " + std::to_string(data_bytes) +
                   " bytes of data");
  return array;
}

void write_npy(const std::string& path, const torch::Tensor& array) {
  const Dtype* dtype = nullptr;
  for (const auto& d : kDtypes)
    if (d.type == array.scalar_type()) dtype = &d;
  if (dtype == nullptr)
    throw DataError(path + ": cannot write dtype " + std::string(c10::toString(array.scalar_type())) +
                    " as .npy");
  std::string shape = "(";
  for (int64_t i = 0; i < array.dim(); ++i) shape += std::to_string(array.size(i)) + ", ";
  if (array.dim() > 1) shape.resize(shape.size() - 2);
  if (array.dim() == 1) shape.resize(shape.size() - 1);  // (N,)
  shape += ")";
  std::string header =
      std::string("{'descr': '") + dtype->descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Padded with spaces and ended by '\n' so that the data starts at a multiple of 64 bytes.
  const bool v2 = header.size() + 11 > 65535;
  const size_t preamble = v2 ? 12 : 10;
  header.append(63 - (preamble + header.size()) % 64, ' ');
  header += '\n';
  std::string bytes(kMagic, kMagicSize);
  bytes += static_cast<char>(v2 ? 2 : 1);
  bytes += '\0';
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i) bytes += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  bytes += header;
  const torch::Tensor data = array.detach().to(torch::kCPU).contiguous();
  if (data.numel() > 0) {  // an empty array has no data pointer
    bytes.append(static_cast<const char*>(data.data_ptr()),
                 static_cast<size_t>(data.numel()) * data.element_size());
  }
  try {
    util::write_file_atomic(path, bytes);
  } catch (const std::exception& e) {
    throw DataError(e.what());
  }
}

}  // namespace lvm::data
