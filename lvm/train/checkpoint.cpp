#include "lvm/train/checkpoint.h"

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <torch/serialize.h>
#include <torch/torch.h>

#include "lvm/train/optimizer_state.h"
#include "lvm/util/files.h"

namespace lvm::train {
namespace {

// Parameters and buffers under one namespace, so new state keys never collide with them.
std::string tensor_key(const std::string& name) { return "model/" + name; }

// A checkpoint is a zip archive whose entries carry CRC-32s, but LibTorch does not check them, and
// its TorchScript parser can crash (SIGSEGV) on corrupt entries (found by
// tests/fuzz/checkpoint_fuzz.cpp). So the zip structure and every entry's CRC are checked first;
// returns what is wrong, or an empty string.
class ZipCheck {
 public:
  explicit ZipCheck(const std::string& path) : in_(path, std::ios::binary) {
    in_.seekg(0, std::ios::end);
    size_ = in_ ? static_cast<uint64_t>(in_.tellg()) : 0;
  }

  std::string run() {
    if (!in_) return "cannot read the file";
    // The end-of-central-directory record: 22 bytes plus a comment of up to 65535.
    const uint64_t tail_size = std::min<uint64_t>(size_, 22 + 65535);
    const std::string tail = read(size_ - tail_size, tail_size);
    const size_t eocd = tail.size() < 22 ? std::string::npos : tail.rfind("PK\x05\x06", tail.size() - 22);
    if (eocd == std::string::npos) return "no zip end-of-central-directory record (truncated file?)";
    const uint64_t eocd_at = size_ - tail_size + eocd;
    uint64_t entries = le(tail, eocd + 10, 2), cd_size = le(tail, eocd + 12, 4),
             cd_at = le(tail, eocd + 16, 4);
    if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_at == 0xFFFFFFFF) {  // zip64
      if (eocd_at < 20) return "corrupt zip64 locator";
      const std::string locator = read(eocd_at - 20, 20);
      if (locator.compare(0, 4, "PK\x06\x07") != 0) return "corrupt zip64 locator";
      const std::string record = read(le(locator, 8, 8), 56);
      if (record.size() < 56 || record.compare(0, 4, "PK\x06\x06") != 0) return "corrupt zip64 record";
      entries = le(record, 32, 8);
      cd_size = le(record, 40, 8);
      cd_at = le(record, 48, 8);
    }
    if (cd_at > size_ || cd_size > size_ - cd_at) return "central directory outside the file";
    const std::string cd = read(cd_at, cd_size);
    size_t at = 0;
    for (uint64_t i = 0; i < entries; ++i) {
      if (at + 46 > cd.size() || cd.compare(at, 4, "PK\x01\x02") != 0) return "corrupt central directory";
      const unsigned method = le(cd, at + 10, 2);
      const uint32_t crc = le(cd, at + 16, 4);
      uint64_t packed = le(cd, at + 20, 4), unpacked = le(cd, at + 24, 4), local_at = le(cd, at + 42, 4);
      const size_t name_length = le(cd, at + 28, 2), extra_length = le(cd, at + 30, 2);
      const size_t next = at + 46 + name_length + extra_length + le(cd, at + 32, 2);
      if (next > cd.size()) return "corrupt central directory";
      const std::string name = cd.substr(at + 46, name_length);
      // Zip64 sizes and offset, present in this order for the fields that hold 0xFFFFFFFF.
      for (size_t e = at + 46 + name_length; e + 4 <= at + 46 + name_length + extra_length;) {
        const size_t id = le(cd, e, 2), length = le(cd, e + 2, 2);
        size_t field = e + 4;
        if (id == 1) {
          for (uint64_t* value : {&unpacked, &packed, &local_at})
            if (*value == 0xFFFFFFFF && field + 8 <= e + 4 + length && field + 8 <= cd.size()) {
              *value = le(cd, field, 8);
              field += 8;
            }
        }
        e += 4 + length;
      }
      if (const std::string fault = check_entry(method, crc, packed, unpacked, local_at); !fault.empty())
        return "entry '" + name + "' " + fault;
      at = next;
    }
    return "";
  }

 private:
  std::string read(uint64_t at, uint64_t n) {
    if (at > size_) return "";
    n = std::min(n, size_ - at);
    std::string out(n, '\0');
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(at));
    in_.read(out.data(), static_cast<std::streamsize>(n));
    out.resize(static_cast<size_t>(in_.gcount()));
    return out;
  }

  static uint64_t le(const std::string& s, size_t at, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i)
      v = (v << 8) | (at + i < s.size() ? static_cast<unsigned char>(s[at + i]) : 0u);
    return v;
  }

  std::string check_entry(unsigned method, uint32_t crc, uint64_t packed, uint64_t unpacked,
                          uint64_t local_at) {
    const std::string local = read(local_at, 30);
    if (local.size() < 30 || local.compare(0, 4, "PK\x03\x04") != 0) return "has no local header";
    const uint64_t data_at = local_at + 30 + le(local, 26, 2) + le(local, 28, 2);
    if (data_at > size_ || packed > size_ - data_at) return "runs past the end of the file (truncated?)";
    if (method != 0 && method != 8) return "uses an unknown compression method";
    z_stream z{};
    if (method == 8 && inflateInit2(&z, -MAX_WBITS) != Z_OK) return "cannot be decompressed";
    uLong sum = crc32(0, nullptr, 0);
    uint64_t produced = 0;
    std::string out(1 << 16, '\0');
    bool bad = false;
    for (uint64_t done = 0; done < packed && !bad;) {
      const std::string chunk = read(data_at + done, std::min<uint64_t>(packed - done, 1 << 16));
      if (chunk.empty()) break;
      done += chunk.size();
      if (method == 0) {
        sum = crc32(sum, reinterpret_cast<const Bytef*>(chunk.data()), static_cast<uInt>(chunk.size()));
        produced += chunk.size();
        continue;
      }
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
      z.avail_in = static_cast<uInt>(chunk.size());
      while (z.avail_in > 0 && !bad) {
        z.next_out = reinterpret_cast<Bytef*>(out.data());
        z.avail_out = static_cast<uInt>(out.size());
        const int rc = inflate(&z, Z_NO_FLUSH);
        const size_t n = out.size() - z.avail_out;
        sum = crc32(sum, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(n));
        produced += n;
        bad = (rc != Z_OK && rc != Z_STREAM_END) || produced > unpacked ||
              (rc == Z_STREAM_END && z.avail_in > 0);
        if (rc == Z_STREAM_END) break;
      }
    }
    if (method == 8) inflateEnd(&z);
    if (bad || produced != unpacked || sum != crc) return "fails its CRC check (corrupt file)";
    return "";
  }

  std::ifstream in_;
  uint64_t size_ = 0;
};

torch::serialize::InputArchive open_archive(const std::string& path) {
  if (!std::filesystem::exists(path)) throw CheckpointError(path + ": checkpoint not found");
  if (const std::string fault = ZipCheck(path).run(); !fault.empty())
    throw CheckpointError(path + ": not a readable checkpoint (truncated or corrupt file): " + fault);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, torch::kCPU);
  } catch (const c10::Error& e) {
    throw CheckpointError(
        path + ": not a readable checkpoint (truncated or corrupt file): " + e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    // LibTorch's unpickler reserves what a length field declares before reading (found by the fuzzer).
    throw CheckpointError(path +
                          ": not a readable checkpoint: it asks for more memory than is available "
                          "(a corrupt length field?)");
  } catch (const std::exception& e) {
    // LibTorch's TorchScript parser throws std::runtime_error on a corrupt type description (found
    // by tests/fuzz/checkpoint_fuzz.cpp); its message goes on with a source excerpt: first line only.
    const std::string message = e.what();
    throw CheckpointError(path + ": not a readable checkpoint (truncated or corrupt file): " +
                          message.substr(0, message.find('\n')));
  }
  return archive;
}

// What a corrupt archive's contents throw (an IValue of the wrong type, a tensor that cannot be
// converted) becomes a CheckpointError naming the file.
template <typename F>
auto reading(const std::string& path, F&& f) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": corrupt checkpoint: " + e.what_without_backtrace());
  }
}

torch::optim::Adam& as_adam(torch::optim::Optimizer& optimizer, const std::string& path) {
  auto* adam = dynamic_cast<torch::optim::Adam*>(&optimizer);
  if (adam == nullptr) throw CheckpointError(path + ": checkpoints hold Adam's optimiser state only");
  return *adam;
}

CheckpointState read_state(torch::serialize::InputArchive& archive, const std::string& path) {
  // Each value checked for its type: a corrupt file must not reach IValue's asserts.
  auto read = [&](const char* key, bool (c10::IValue::*is_type)() const, const char* type) {
    c10::IValue value;
    if (!archive.try_read(key, value))
      throw CheckpointError(path + ": not an lvm checkpoint (no '" + std::string(key) + "')");
    if (!(value.*is_type)())
      throw CheckpointError(path + ": corrupt checkpoint: '" + key + "' is a " + value.tagKind() + ", not " +
                            type);
    return value;
  };
  const auto integer = [&](const char* key) { return read(key, &c10::IValue::isInt, "an integer").toInt(); };
  const auto text = [&](const char* key) {
    return read(key, &c10::IValue::isString, "a string").toStringRef();
  };
  const int64_t version = integer("format_version");
  if (version > kCheckpointFormatVersion) {
    throw CheckpointError(path + ": checkpoint format version " + std::to_string(version) +
                          " is newer than this lvm understands (" + std::to_string(kCheckpointFormatVersion) +
                          "); upgrade lvm");
  }
  CheckpointState state;
  state.epoch = integer("epoch");
  state.best_value = read("best_value", &c10::IValue::isDouble, "a number").toDouble();
  state.best_epoch = integer("best_epoch");
  state.config_yaml = text("config_yaml");
  state.metrics_csv = text("metrics_csv");
  c10::IValue rng;
  if (archive.try_read("rng_state", rng) && rng.isTensor()) state.rng_state = rng.toTensor();
  c10::IValue data_shape;
  if (archive.try_read("data_shape", data_shape) && data_shape.isIntList())
    state.data_shape = data_shape.toIntVector();
  if (version >= 2) {
    const auto number = [&](const char* key) {
      return read(key, &c10::IValue::isDouble, "a number").toDouble();
    };
    state.step = integer("step");
    state.epoch_value_sum = number("epoch_value_sum");
    // Written since the KL weight options; before them the loss was −mean(value) throughout.
    c10::IValue objective_sum;
    state.epoch_objective_sum =
        archive.try_read("epoch_objective_sum", objective_sum) && objective_sum.isDouble()
            ? objective_sum.toDouble()
            : state.epoch_value_sum;
    state.epoch_examples = integer("epoch_examples");
    state.epoch_seconds = number("epoch_seconds");
    state.epoch_skipped = integer("epoch_skipped");
  }
  if (state.epoch < 0 || state.step < 0 || state.epoch_examples < 0 || state.epoch_skipped < 0) {
    throw CheckpointError(path + ": corrupt checkpoint: negative epoch, step or count");
  }
  return state;
}

}  // namespace

void save_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const CheckpointState& state) {
  torch::serialize::OutputArchive archive;
  archive.write("format_version", c10::IValue(kCheckpointFormatVersion));
  archive.write("epoch", c10::IValue(state.epoch));
  archive.write("best_value", c10::IValue(state.best_value));
  archive.write("best_epoch", c10::IValue(state.best_epoch));
  archive.write("config_yaml", c10::IValue(state.config_yaml));
  archive.write("metrics_csv", c10::IValue(state.metrics_csv));
  if (state.rng_state.defined()) archive.write("rng_state", c10::IValue(state.rng_state));
  if (!state.data_shape.empty()) archive.write("data_shape", c10::IValue(state.data_shape));
  archive.write("step", c10::IValue(state.step));
  archive.write("epoch_value_sum", c10::IValue(state.epoch_value_sum));
  archive.write("epoch_objective_sum", c10::IValue(state.epoch_objective_sum));
  archive.write("epoch_examples", c10::IValue(state.epoch_examples));
  archive.write("epoch_seconds", c10::IValue(state.epoch_seconds));
  archive.write("epoch_skipped", c10::IValue(state.epoch_skipped));
  for (const auto& item : model.named_parameters())
    archive.write(tensor_key(item.key()), item.value().detach().cpu());
  for (const auto& item : model.named_buffers())
    archive.write(tensor_key(item.key()), item.value().cpu(), true);
  if (optimizer != nullptr) {
    torch::serialize::OutputArchive optimizer_archive;
    save_adam_state(optimizer_archive, as_adam(*optimizer, path));
    archive.write("optimizer", optimizer_archive);
  }
  // Serialised in memory and written by util, which checks every write, fsync and rename (a full
  // disk must not leave a short file in place of the last good checkpoint).
  std::ostringstream bytes;
  try {
    archive.save_to(bytes);
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": cannot write checkpoint: " + e.what_without_backtrace());
  }
  util::write_file_atomic(path, bytes.str());
}

CheckpointState read_checkpoint_state(const std::string& path) {
  auto archive = open_archive(path);
  return reading(path, [&] { return read_state(archive, path); });
}

CheckpointState load_checkpoint(const std::string& path, torch::nn::Module& model,
                                torch::optim::Optimizer* optimizer) {
  auto archive = open_archive(path);
  CheckpointState state = reading(path, [&] { return read_state(archive, path); });

  // Read and check everything first; copy into the model only once all of it fits.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  auto stage = [&](const std::string& name, const torch::Tensor& target, bool is_buffer) {
    torch::Tensor stored;
    if (!reading(path, [&] { return archive.try_read(tensor_key(name), stored, is_buffer); })) {
      throw CheckpointError(path + ": parameter '" + name +
                            "' is missing: the checkpoint was written by another model architecture");
    }
    if (stored.sizes() != target.sizes()) {
      std::ostringstream message;
      message << path << ": parameter '" << name << "' has shape " << stored.sizes()
              << " in the checkpoint but " << target.sizes()
              << " in the model: the checkpoint was written by another model architecture";
      throw CheckpointError(message.str());
    }
    // Converted now, so that the copies below cannot fail half-way.
    if (stored.layout() != torch::kStrided || stored.is_complex())
      throw CheckpointError(path + ": corrupt checkpoint: parameter '" + name +
                            "' is not a real dense tensor");
    copies.emplace_back(target, reading(path, [&] { return stored.to(target.options()).contiguous(); }));
  };
  for (const auto& item : model.named_parameters()) stage(item.key(), item.value(), false);
  for (const auto& item : model.named_buffers()) stage(item.key(), item.value(), true);
  if (optimizer != nullptr) {
    torch::serialize::InputArchive optimizer_archive;
    if (!archive.try_read("optimizer", optimizer_archive)) {
      throw CheckpointError(path + ": holds no optimiser state, so training cannot resume from it");
    }
    // Not Optimizer::load: see optimizer_state.h for why it cannot read other versions' files.
    reading(path, [&] { load_adam_state(optimizer_archive, as_adam(*optimizer, path), path); });
  }
  {
    torch::NoGradGuard no_grad;
    for (auto& [target, stored] : copies) target.copy_(stored);
  }
  return state;
}

}  // namespace lvm::train
