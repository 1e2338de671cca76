// Fuzz target for the .npy reader. Checks, beyond "accept or DataError naming the file", that an
// accepted array survives write_npy and read_npy unchanged (dtype, shape and every byte), so the
// reader and writer agree on the format.
#include <cstring>
#include <optional>

#include <torch/torch.h>

#include "lvm/data/npy.h"
#include "tests/fuzz/fuzz_targets.h"

namespace lvm::fuzz {
namespace {

std::optional<torch::Tensor> read(const std::string& path) {
  try {
    return data::read_npy(path);
  } catch (const data::DataError& e) {
    expect_names(e.what(), path, "read_npy");
    return std::nullopt;
  }
}

}  // namespace

Outcome npy_input(const uint8_t* data, size_t size) {
  if (size > (1 << 16)) return Outcome::kRejected;
  ScratchFile file(scratch_path("input.npy"));
  write_bytes(file.path, data, size);
  const std::optional<torch::Tensor> array = read(file.path);
  if (!array) return Outcome::kRejected;
  const torch::Tensor& a = *array;
  if (a.dim() > 8) finding("read_npy returned a tensor with " + std::to_string(a.dim()) + " dims");
  ScratchFile copy(scratch_path("copy.npy"));
  data::write_npy(copy.path, a);
  const std::optional<torch::Tensor> again = read(copy.path);
  if (!again) finding("read_npy refused what write_npy wrote");
  // An empty array has no data pointer to compare (memcmp must not see null).
  if (again->scalar_type() != a.scalar_type() || again->sizes() != a.sizes() ||
      (a.numel() > 0 && std::memcmp(again->data_ptr(), a.data_ptr(), a.numel() * a.element_size()) != 0))
    finding("read_npy(write_npy(array)) differs from the array");
  return Outcome::kAccepted;
}

}  // namespace lvm::fuzz

LVM_FUZZ_TARGET(npy_input)
