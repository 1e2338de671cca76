#include "lvm/nn/fused_tanh.h"

#include <cmath>

#include <torch/torch.h>

#include "lvm/util/avx2_math.h"
#include "lvm/util/cpu_features.h"

namespace lvm::nn {
namespace {

void bias_tanh_scalar(float* row, const float* bias, int64_t n) {
  for (int64_t i = 0; i < n; ++i) row[i] = std::tanh(row[i] + bias[i]);
}

#ifdef LVM_HAVE_AVX2_KERNEL
__attribute__((target("avx2,fma"))) void bias_tanh_avx2(float* row, const float* bias, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_add_ps(_mm256_loadu_ps(row + i), _mm256_loadu_ps(bias + i));
    _mm256_storeu_ps(row + i, util::tanh(v));
  }
  bias_tanh_scalar(row + i, bias + i, n - i);
}
#endif

}  // namespace

void bias_tanh_(torch::Tensor& rows, const torch::Tensor& bias) {
  TORCH_CHECK(rows.device().is_cpu() && rows.scalar_type() == torch::kFloat && rows.dim() == 2 &&
                  rows.is_contiguous(),
              "bias_tanh_: expected contiguous CPU float rows [N, H], got ", rows.sizes(), " ",
              rows.scalar_type());
  TORCH_CHECK(bias.dim() == 1 && bias.size(0) == rows.size(1) && bias.scalar_type() == torch::kFloat,
              "bias_tanh_: expected a float bias of shape [", rows.size(1), "], got ", bias.sizes());
  const auto b = bias.contiguous();
  const int64_t n = rows.size(0), width = rows.size(1);
  float* data = rows.data_ptr<float>();
  const float* bias_data = b.data_ptr<float>();
  for (int64_t r = 0; r < n; ++r) {
#ifdef LVM_HAVE_AVX2_KERNEL
    if (util::cpu_has_avx2()) {
      bias_tanh_avx2(data + r * width, bias_data, width);
      continue;
    }
#endif
    bias_tanh_scalar(data + r * width, bias_data, width);
  }
}

torch::Tensor linear_tanh(const torch::Tensor& h, const torch::Tensor& weight, const torch::Tensor& bias) {
  auto out = torch::mm(h, weight.t());
  bias_tanh_(out, bias);
  return out;
}

}  // namespace lvm::nn
