#include "lvm/runtime/memory.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>

namespace lvm::runtime {
namespace {

int64_t mem_total_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  in >> key >> kib;  // the first line is MemTotal
  return key == "MemTotal:" ? kib * 1024 : -1;
}

TEST(AvailableMemory, OnTheCpuIsWhatTheKernelReportsAtMost) {
  const auto bytes = available_memory(torch::kCPU);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_GT(*bytes, 0);
  const int64_t total = mem_total_bytes();
  ASSERT_GT(total, 0);
  EXPECT_LE(*bytes, total);
}

TEST(AvailableMemory, OnCudaIsTheDevicesFreeMemoryOrUnknownWithoutOne) {
  const torch::Device gpu(torch::kCUDA, 0);
  const auto bytes = available_memory(gpu);
  if (!torch::cuda::is_available()) {
    EXPECT_FALSE(bytes.has_value()) << "no CUDA device, yet " << *bytes << " bytes free";
    return;
  }
  ASSERT_TRUE(bytes.has_value()) << "a CUDA device, and lvm built against a CUDA LibTorch (LVM_WITH_CUDA)";
  // Taking 256 MiB on the device takes about as much from what it reports free.
  const auto before = *bytes;
  auto block = torch::empty({64 * 1024 * 1024}, torch::TensorOptions().device(gpu));
  const auto after = available_memory(gpu);
  ASSERT_TRUE(after.has_value());
  EXPECT_LE(*after, before - 200 * 1024 * 1024);
}

TEST(MemoryEstimates, MlpRowsCountEveryLayersOutputBeforeAndAfterItsActivation) {
  // 784 inputs, 2 x (200 + 200) hidden values, 2 x 50 outputs: 1684 floats.
  EXPECT_EQ(mlp_bytes_per_row(784, {200, 200}, 50), 1684 * 4);
  EXPECT_EQ(mlp_bytes_per_row(3, {}, 1), 5 * 4);
}

TEST(MemoryEstimates, BytesAreFormattedInBinaryUnits) {
  EXPECT_EQ(format_bytes(12), "12 B");
  EXPECT_EQ(format_bytes(640 * 1024), "640.0 KiB");
  EXPECT_EQ(format_bytes(1.5 * 1024 * 1024 * 1024), "1.5 GiB");
}

}  // namespace
}  // namespace lvm::runtime
