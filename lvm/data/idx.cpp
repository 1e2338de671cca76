#include "lvm/data/idx.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace lvm::data {
namespace {

// A header whose data would exceed this is corrupt (MNIST's largest file holds 47 MB).
constexpr uint64_t kMaxDataBytes = uint64_t{1} << 34;
// Data up to this size is read straight into the array the header describes.
constexpr uint64_t kDirectReadBytes = uint64_t{1} << 26;

struct DtypeInfo {
  uint8_t code;
  torch::ScalarType type;
  const char* name;
};

constexpr std::array<DtypeInfo, 6> kDtypes = {{
    {0x08, torch::kUInt8, "uint8"},
    {0x09, torch::kInt8, "int8"},
    {0x0B, torch::kInt16, "int16"},
    {0x0C, torch::kInt32, "int32"},
    {0x0D, torch::kFloat32, "float32"},
    {0x0E, torch::kFloat64, "float64"},
}};

const DtypeInfo* dtype_by_code(uint8_t code) {
  for (const auto& d : kDtypes)
    if (d.code == code) return &d;
  return nullptr;
}

const DtypeInfo* dtype_by_type(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (d.type == type) return &d;
  return nullptr;
}

std::string hex_byte(unsigned value) {
  char buffer[8];
  std::snprintf(buffer, sizeof(buffer), "0x%02X", value & 0xFFu);
  return buffer;
}

std::string known_dtypes() {
  std::string out;
  for (const auto& d : kDtypes) {
    if (!out.empty()) out += ", ";
    out += hex_byte(d.code) + " " + d.name;
  }
  return out;
}

[[noreturn]] void fail(const std::string& path, const std::string& fault) {
  throw DataError(path + ": " + fault);
}

constexpr bool host_is_little_endian() {
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return false;
#else
  return true;
#endif
}

// IDX stores multi-byte elements big-endian; swaps in place on little-endian hosts.
void swap_to_or_from_big_endian(void* data, size_t count, size_t element_size) {
  if (!host_is_little_endian() || element_size == 1) return;
  auto* bytes = static_cast<unsigned char*>(data);
  for (size_t i = 0; i < count; ++i) std::reverse(bytes + i * element_size, bytes + (i + 1) * element_size);
}

uint32_t read_be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// A byte source over a raw or gzip file; read() returns fewer bytes than asked only at the end
// of the data and throws DataError on I/O errors or a corrupt gzip stream.
class Source {
 public:
  explicit Source(std::string path) : path_(std::move(path)) {
    errno = 0;
    FILE* raw = std::fopen(path_.c_str(), "rb");
    if (raw == nullptr) fail(path_, std::string("cannot open: ") + std::strerror(errno));
    // Peek at the first two bytes: gzip streams start with 0x1f 0x8b, IDX files with zeros.
    unsigned char magic[2] = {0, 0};
    const size_t got = std::fread(magic, 1, 2, raw);
    if (std::ferror(raw)) {
      const int err = errno;
      std::fclose(raw);
      fail(path_, std::string("cannot read: ") + std::strerror(err));
    }
    if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
      std::fclose(raw);
      errno = 0;
      gz_ = gzopen(path_.c_str(), "rb");
      if (gz_ == nullptr)
        fail(path_,
             std::string("cannot open gzip stream: ") + (errno ? std::strerror(errno) : "out of memory"));
      gzbuffer(gz_, 1 << 17);
    } else {
      std::rewind(raw);
      file_ = raw;
    }
  }
  ~Source() {
    if (file_ != nullptr) std::fclose(file_);
    if (gz_ != nullptr) gzclose(gz_);
  }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  bool gzip() const { return gz_ != nullptr; }

  size_t read(void* buffer, size_t n) {
    auto* out = static_cast<char*>(buffer);
    size_t total = 0;
    while (total < n) {
      // gzread takes an unsigned count and returns an int: read in chunks below INT_MAX.
      const size_t want = std::min<size_t>(n - total, size_t{1} << 30);
      size_t got = 0;
      if (file_ != nullptr) {
        got = std::fread(out + total, 1, want, file_);
        if (std::ferror(file_)) fail(path_, std::string("cannot read: ") + std::strerror(errno));
      } else {
        const int r = gzread(gz_, out + total, static_cast<unsigned>(want));
        check_gzip();
        if (r < 0) fail(path_, "corrupt gzip stream");
        got = static_cast<size_t>(r);
      }
      total += got;
      if (got < want) break;  // end of data
    }
    return total;
  }

 private:
  void check_gzip() {
    int errnum = Z_OK;
    const char* message = gzerror(gz_, &errnum);
    if (errnum == Z_OK) return;
    if (errnum == Z_ERRNO) fail(path_, std::string("cannot read: ") + std::strerror(errno));
    // Z_BUF_ERROR: the compressed stream ended in the middle (a cut-off download).
    if (errnum == Z_BUF_ERROR)
      fail(path_, "corrupt gzip stream: compressed data ends unexpectedly (truncated .gz)");
    std::string detail = message ? message : "unknown zlib error";
    // zlib prefixes its messages with the path, which fail() adds already.
    if (detail.rfind(path_ + ": ", 0) == 0) detail.erase(0, path_.size() + 2);
    fail(path_, "corrupt gzip stream: " + detail);
  }

  std::string path_;
  FILE* file_ = nullptr;
  gzFile gz_ = nullptr;
};

// Writes all of `data` to a file descriptor, or returns false with errno set.
bool write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

torch::Tensor read_idx(const std::string& path) {
  Source source(path);
  const std::string where = source.gzip() ? " (after decompression)" : "";

  unsigned char head[4];
  const size_t got_head = source.read(head, 4);
  if (got_head < 4)
    fail(path, "truncated header: an IDX header needs at least 4 bytes, file has " +
                   std::to_string(got_head) + where);
  if (head[0] != 0 || head[1] != 0)
    fail(path, "bad magic: first two bytes are " + hex_byte(head[0]) + " " + hex_byte(head[1]) +
                   ", expected 0x00 0x00 (not an IDX file?)");
  const DtypeInfo* dtype = dtype_by_code(head[2]);
  if (dtype == nullptr)
    fail(path, "unknown dtype code " + hex_byte(head[2]) + " (known: " + known_dtypes() + ")");
  const int ndim = head[3];
  if (ndim < 1 || ndim > 4)
    fail(path, "unsupported number of dimensions " + std::to_string(ndim) + " (expected 1..4)");

  unsigned char dim_bytes[16];
  const size_t want_dims = 4 * static_cast<size_t>(ndim);
  const size_t got_dims = source.read(dim_bytes, want_dims);
  if (got_dims < want_dims)
    fail(path, "truncated header: " + std::to_string(ndim) + " dimensions need " +
                   std::to_string(4 + want_dims) + " header bytes, file has " + std::to_string(4 + got_dims) +
                   where);

  std::vector<int64_t> sizes(ndim);
  std::string shape;
  const uint64_t element_size = c10::elementSize(dtype->type);
  uint64_t bytes = element_size;
  bool absurd = false;
  for (int i = 0; i < ndim; ++i) {
    const uint32_t d = read_be32(dim_bytes + 4 * i);
    if (d == 0)
      fail(path, "dimension " + std::to_string(i + 1) + " of " + std::to_string(ndim) +
                     " is zero (corrupt header?)");
    sizes[i] = d;
    shape += (i ? " x " : "") + std::to_string(d);
    // Checked before multiplying, so the product can neither overflow nor exceed the limit.
    if (!absurd && bytes > kMaxDataBytes / d) absurd = true;
    if (!absurd) bytes *= d;
  }
  if (absurd)
    fail(path, "header declares " + std::string(dtype->name) + " [" + shape +
                   "], more than 2^34 bytes of data (corrupt header?)");

  // The header is not trusted with memory: beyond kDirectReadBytes the data is read in chunks into
  // a buffer that grows with what the file holds, so a few corrupt header bytes cannot make us
  // reserve gigabytes (found by tests/fuzz/idx_fuzz.cpp).
  const auto options = torch::TensorOptions().dtype(dtype->type);
  torch::Tensor array;
  size_t got_data = 0;
  if (bytes <= kDirectReadBytes) {
    array = torch::empty(sizes, options);
    got_data = source.read(array.data_ptr(), bytes);
  } else {
    std::vector<char> buffer;
    while (got_data < bytes) {
      const size_t chunk = std::min<uint64_t>(bytes - got_data, kDirectReadBytes);
      buffer.resize(got_data + chunk);
      const size_t n = source.read(buffer.data() + got_data, chunk);
      got_data += n;
      if (n < chunk) break;
    }
    if (got_data == bytes) {
      array = torch::empty(sizes, options);
      std::memcpy(array.data_ptr(), buffer.data(), bytes);
    }
  }
  if (got_data < bytes)
    fail(path, "truncated: header promises " + std::to_string(bytes) + " bytes of data (" + dtype->name +
                   " [" + shape + "]), file has " + std::to_string(got_data) + where);

  // Anything after the data means the header does not describe the file.
  uint64_t trailing = 0;
  char sink[1 << 14];
  for (size_t n; (n = source.read(sink, sizeof(sink))) > 0;) {
    trailing += n;
    if (n < sizeof(sink)) break;
  }
  if (trailing > 0)
    fail(path, "trailing data: " + std::to_string(trailing) + " bytes after the " + std::to_string(bytes) +
                   " bytes of data the header promises" + where);

  swap_to_or_from_big_endian(array.data_ptr(), static_cast<size_t>(array.numel()), element_size);
  return array;
}

void write_idx(const std::string& path, const torch::Tensor& array, bool gzip) {
  if (!array.defined()) fail(path, "cannot write an undefined tensor as IDX");
  const DtypeInfo* dtype = dtype_by_type(array.scalar_type());
  if (dtype == nullptr)
    fail(path, std::string("cannot write dtype ") + c10::toString(array.scalar_type()) +
                   " as IDX (supported: " + known_dtypes() + ")");
  if (array.dim() < 1 || array.dim() > 4)
    fail(path,
         "cannot write a tensor with " + std::to_string(array.dim()) + " dimensions as IDX (expected 1..4)");

  // Header: two zero bytes, dtype code, ndim, then each dimension big-endian.
  std::string bytes;
  bytes.push_back(0);
  bytes.push_back(0);
  bytes.push_back(static_cast<char>(dtype->code));
  bytes.push_back(static_cast<char>(array.dim()));
  for (int64_t d : array.sizes()) {
    if (d < 1 || d > int64_t{UINT32_MAX})
      fail(path, "cannot write dimension of size " + std::to_string(d) + " as IDX (expected 1..2^32-1)");
    const auto u = static_cast<uint32_t>(d);
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>((u >> shift) & 0xFF));
  }
  const torch::Tensor data = array.detach().to(torch::kCPU).contiguous();
  const size_t header_size = bytes.size();
  const size_t data_size = static_cast<size_t>(data.numel()) * data.element_size();
  bytes.resize(header_size + data_size);
  std::memcpy(bytes.data() + header_size, data.data_ptr(), data_size);
  swap_to_or_from_big_endian(bytes.data() + header_size, static_cast<size_t>(data.numel()),
                             static_cast<size_t>(data.element_size()));

  // Temporary file next to the target, so that rename() is atomic.
  std::string temp = path + ".tmp.XXXXXX";
  const int fd = mkstemp(temp.data());
  if (fd < 0) fail(path, std::string("cannot create temporary file ") + temp + ": " + std::strerror(errno));
  auto abandon = [&](const std::string& what, int err) {
    ::unlink(temp.c_str());
    fail(path, what + ": " + std::strerror(err));
  };
  ::fchmod(fd, 0644);  // mkstemp creates 0600; data files are meant to be shared

  if (gzip) {
    // gzclose closes the descriptor it owns; keep our own to fsync afterwards.
    const int gz_fd = ::dup(fd);
    gzFile gz = gz_fd >= 0 ? gzdopen(gz_fd, "wb") : nullptr;
    if (gz == nullptr) {
      const int err = errno ? errno : ENOMEM;
      if (gz_fd >= 0) ::close(gz_fd);
      ::close(fd);
      abandon("cannot open gzip stream", err);
    }
    errno = 0;
    size_t done = 0;
    bool ok = true;
    while (ok && done < bytes.size()) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(bytes.size() - done, size_t{1} << 30));
      ok = gzwrite(gz, bytes.data() + done, chunk) == static_cast<int>(chunk);
      done += chunk;
    }
    int err = errno ? errno : EIO;
    if (gzclose(gz) != Z_OK) ok = false;
    if (!ok) {
      ::close(fd);
      abandon("cannot write", err);
    }
  } else if (!write_all(fd, bytes.data(), bytes.size())) {
    const int err = errno;
    ::close(fd);
    abandon("cannot write", err);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    abandon("cannot write (fsync)", err);
  }
  if (::close(fd) != 0) abandon("cannot write (close)", errno);
  if (std::rename(temp.c_str(), path.c_str()) != 0) abandon("cannot rename " + temp + " into place", errno);
}

}  // namespace lvm::data
