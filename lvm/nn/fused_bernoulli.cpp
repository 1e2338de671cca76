#include "lvm/nn/fused_bernoulli.h"

#include <algorithm>
#include <cmath>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "lvm/util/avx2_math.h"
#include "lvm/util/cpu_features.h"

namespace lvm::nn {
namespace {

// Rows of logits per block, written by one matrix product into a reused buffer and summed right
// after. Measured on 2 cores (classic decoder, noisy machine): blocks of 130 to 2000 rows within
// noise of each other, small ones (< 500 rows) a little slower as the product runs below full rate.
constexpr int64_t kBlockRows = 1024;

// The kernels take the logits before the bias of the layer that produced them (nullptr: none), so
// that the matrix product need not first broadcast the bias into its output.

// softplus(l) = max(l, 0) + log1p(exp(−|l|)), stable for any l; the reference for the fast path.
void softplus_sum_scalar(const float* logits, const float* bias, int64_t rows, int64_t dim, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* l = logits + r * dim;
    double sum = 0;
    for (int64_t d = 0; d < dim; ++d) {
      const double v = bias != nullptr ? l[d] + bias[d] : l[d];
      sum += std::max(v, 0.0) + std::log1p(std::exp(-std::abs(v)));
    }
    out[r] = static_cast<float>(sum);
  }
}

// out[d] = g · (x[d] − σ(l[d])) over one row; the reference for the fast path.
void bernoulli_grad_row_scalar(const float* l, const float* x, float g, int64_t dim, float* out) {
  for (int64_t d = 0; d < dim; ++d) out[d] = g * (x[d] - 1.0f / (1.0f + std::exp(-l[d])));
}

#ifdef LVM_HAVE_AVX2_KERNEL
using util::exp_nonpositive;

// Splits a product p >= 1 into its mantissa in [1, 2) (returned) and its exponent (added to
// `exponents`), so that products of many factors never overflow.
__attribute__((target("avx2,fma"))) inline __m256 normalise(__m256 p, __m256i& exponents) {
  const __m256i bits = _mm256_castps_si256(p);
  exponents =
      _mm256_add_epi32(exponents, _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
  return _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF)), _mm256_set1_epi32(0x3F800000)));
}

// Σ_d log1p(exp(−|l_d|)) is taken as log Π_d (1 + exp(−|l_d|)): one logarithm per row instead of
// one per pixel. Each factor lies in (1, 2]; four 8-lane products, renormalised every 64 steps
// (each lane then holds at most 2^64), keep it finite. Rounding: one float rounding per factor
// and product, ~1e-7 nats each, far below the float rounding of the log-likelihood itself.
template <bool kBias>
__attribute__((target("avx2,fma"))) void softplus_sum_avx2(const float* logits, const float* bias,
                                                           int64_t rows, int64_t dim, float* out) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t row = 0; row < rows; ++row) {
    const float* l = logits + row * dim;
    __m256 positive[4] = {zero, zero, zero, zero};
    __m256 product[4] = {one, one, one, one};
    __m256i exponents = _mm256_setzero_si256();
    int64_t d = 0;
    int steps = 0;
    for (; d + 32 <= dim; d += 32) {
      for (int i = 0; i < 4; ++i) {
        __m256 v = _mm256_loadu_ps(l + d + 8 * i);
        if constexpr (kBias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + d + 8 * i));
        positive[i] = _mm256_add_ps(positive[i], _mm256_max_ps(v, zero));
        const __m256 e = exp_nonpositive(_mm256_or_ps(v, sign));  // −|v|
        product[i] = _mm256_mul_ps(product[i], _mm256_add_ps(one, e));
      }
      if (++steps == 64) {
        for (auto& p : product) p = normalise(p, exponents);
        steps = 0;
      }
    }
    for (; d + 8 <= dim; d += 8) {
      __m256 v = _mm256_loadu_ps(l + d);
      if constexpr (kBias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + d));
      positive[0] = _mm256_add_ps(positive[0], _mm256_max_ps(v, zero));
      product[0] = _mm256_mul_ps(product[0], _mm256_add_ps(one, exp_nonpositive(_mm256_or_ps(v, sign))));
    }
    for (auto& p : product) p = normalise(p, exponents);
    // Four mantissas in [1, 2) per lane multiply to < 16; eight lanes to < 2^32: exact enough in double.
    const __m256 mantissa =
        _mm256_mul_ps(_mm256_mul_ps(product[0], product[1]), _mm256_mul_ps(product[2], product[3]));
    const __m256 positive_sum =
        _mm256_add_ps(_mm256_add_ps(positive[0], positive[1]), _mm256_add_ps(positive[2], positive[3]));
    alignas(32) float m[8], s[8];
    alignas(32) int32_t e[8];
    _mm256_store_ps(m, mantissa);
    _mm256_store_ps(s, positive_sum);
    _mm256_store_si256(reinterpret_cast<__m256i*>(e), exponents);
    double prod = 1, sum = 0;
    int64_t exponent = 0;
    for (int i = 0; i < 8; ++i) {
      prod *= m[i];
      sum += s[i];
      exponent += e[i];
    }
    sum += std::log(prod) + static_cast<double>(exponent) * 0.69314718055994530942;
    for (; d < dim; ++d) {
      const double v = kBias ? l[d] + bias[d] : l[d];
      sum += std::max(v, 0.0) + std::log1p(std::exp(-std::abs(v)));
    }
    out[row] = static_cast<float>(sum);
  }
}

// σ(l) for any l from e = exp(−|l|): 1/(1+e) for l ≥ 0, e/(1+e) below.
__attribute__((target("avx2,fma"))) inline __m256 sigmoid(__m256 l) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp_nonpositive(_mm256_or_ps(l, _mm256_set1_ps(-0.0f)));
  const __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, e));
  return _mm256_blendv_ps(s, _mm256_mul_ps(e, s), _mm256_cmp_ps(l, _mm256_setzero_ps(), _CMP_LT_OQ));
}

// out[d] = g · (x[d] − σ(l[d])) over one row.
__attribute__((target("avx2,fma"))) void bernoulli_grad_row_avx2(const float* l, const float* x, float g,
                                                                 int64_t dim, float* out) {
  const __m256 gv = _mm256_set1_ps(g);
  int64_t d = 0;
  for (; d + 8 <= dim; d += 8) {
    const __m256 residual = _mm256_sub_ps(_mm256_loadu_ps(x + d), sigmoid(_mm256_loadu_ps(l + d)));
    _mm256_storeu_ps(out + d, _mm256_mul_ps(gv, residual));
  }
  bernoulli_grad_row_scalar(l + d, x + d, g, dim - d, out + d);
}

#endif

void softplus_sum_cpu(const float* logits, const float* bias, int64_t rows, int64_t dim, float* out) {
  // Rows are independent. at::parallel_for runs them on the calling thread in lvm's build (no
  // OpenMP); evaluation puts every core to work one level up (estimators' workers).
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
#ifdef LVM_HAVE_AVX2_KERNEL
    if (util::cpu_has_avx2()) {
      if (bias != nullptr) {
        softplus_sum_avx2<true>(logits + begin * dim, bias, end - begin, dim, out + begin);
      } else {
        softplus_sum_avx2<false>(logits + begin * dim, nullptr, end - begin, dim, out + begin);
      }
      return;
    }
#endif
    softplus_sum_scalar(logits + begin * dim, bias, end - begin, dim, out + begin);
  });
}

// Other devices and dtypes take plain ATen (softplus, then sum): on CUDA those are already
// device kernels, and a kernel of lvm's own there would need nvcc, which lvm does not require.
bool use_cpu_kernel(const torch::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == torch::kFloat;
}

// grad [rows, dim] = g[r] · (x[r mod x_rows] − σ(logits[r])), row by row.
void bernoulli_grad_cpu(const float* logits, const float* x, int64_t x_rows, const float* g, int64_t rows,
                        int64_t dim, float* grad) {
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* l = logits + r * dim;
      const float* xr = x + (r % x_rows) * dim;
#ifdef LVM_HAVE_AVX2_KERNEL
      if (util::cpu_has_avx2()) {
        bernoulli_grad_row_avx2(l, xr, g[r], dim, grad + r * dim);
        continue;
      }
#endif
      bernoulli_grad_row_scalar(l, xr, g[r], dim, grad + r * dim);
    }
  });
}

// Whether bernoulli_log_prob can take its fused path: CPU float32 logits [..., B, D] and an x of
// shape [B, D] or the logits' own, with no gradient wanted for x.
bool fused_log_prob_applies(const torch::Tensor& logits, const torch::Tensor& x) {
  if (!use_cpu_kernel(logits) || !use_cpu_kernel(x) || x.requires_grad() || logits.dim() < 2) return false;
  if (x.sizes() == logits.sizes()) return true;
  return x.dim() == 2 && x.size(0) == logits.size(-2) && x.size(1) == logits.size(-1);
}

struct BernoulliLogProb : torch::autograd::Function<BernoulliLogProb> {
  // logits [..., B, D], x [B, D] or [..., B, D] -> [..., B]
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& x) {
    const auto l = logits.contiguous();
    const auto xs = x.contiguous();
    const int64_t dim = l.size(-1), rows = l.numel() / std::max<int64_t>(dim, 1);
    auto softplus = torch::empty({rows}, l.options());
    softplus_sum_cpu(l.data_ptr<float>(), nullptr, rows, dim, softplus.data_ptr<float>());
    auto shape = l.sizes().vec();
    shape.pop_back();
    ctx->save_for_backward({l, xs});
    return (l * xs).sum(-1) - softplus.view(shape);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& l = saved[0];
    const auto& xs = saved[1];
    const auto g = grad_outputs[0].contiguous();
    const int64_t dim = l.size(-1), rows = l.numel() / std::max<int64_t>(dim, 1);
    auto grad = torch::empty_like(l);
    bernoulli_grad_cpu(l.data_ptr<float>(), xs.data_ptr<float>(), xs.numel() / std::max<int64_t>(dim, 1),
                       g.data_ptr<float>(), rows, dim, grad.data_ptr<float>());
    return {grad, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor softplus_sum(const torch::Tensor& logits) {
  TORCH_CHECK(logits.dim() >= 1, "softplus_sum: expected logits of shape [..., D], got ", logits.sizes());
  if (!use_cpu_kernel(logits) || (torch::GradMode::is_enabled() && logits.requires_grad())) {
    return torch::softplus(logits).sum(-1);
  }
  const auto flat = logits.contiguous().view({-1, logits.size(-1)});
  auto out = torch::empty({flat.size(0)}, flat.options());
  softplus_sum_cpu(flat.data_ptr<float>(), nullptr, flat.size(0), flat.size(1), out.data_ptr<float>());
  auto shape = logits.sizes().vec();
  shape.pop_back();
  return out.view(shape);
}

namespace detail {
torch::Tensor softplus_sum_portable(const torch::Tensor& logits) {
  TORCH_CHECK(use_cpu_kernel(logits) && logits.dim() == 2,
              "softplus_sum_portable: expected CPU float [N, D], got ", logits.sizes(), " ",
              logits.scalar_type());
  const auto flat = logits.contiguous();
  auto out = torch::empty({flat.size(0)}, flat.options());
  softplus_sum_scalar(flat.data_ptr<float>(), nullptr, flat.size(0), flat.size(1), out.data_ptr<float>());
  return out;
}
}  // namespace detail

// GCC 14 (Debian 13) warns, wrongly, that libstdc++'s std::vector<bool>::reserve, inlined from
// LibTorch's autograd::Function::apply, copies out of bounds (-Warray-bounds and
// -Wstringop-overflow on a memmove into 8 bytes); with warnings as errors that stops the build.
// The warnings are GCC's alone.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
torch::Tensor bernoulli_log_prob(const torch::Tensor& logits, const torch::Tensor& x) {
  if (!fused_log_prob_applies(logits, x)) return (x * logits - torch::softplus(logits)).sum(-1);
  return BernoulliLogProb::apply(logits, x);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

torch::Tensor bernoulli_linear_log_likelihood(const torch::Tensor& x, const torch::Tensor& h,
                                              const torch::Tensor& weight, const torch::Tensor& bias) {
  TORCH_CHECK(x.dim() == 2, "bernoulli_linear_log_likelihood: expected x of shape [B, D], got ", x.sizes());
  TORCH_CHECK(h.dim() == 3 && h.size(1) == x.size(0),
              "bernoulli_linear_log_likelihood: expected h of shape [K, ", x.size(0), ", H], got ",
              h.sizes());
  TORCH_CHECK(weight.dim() == 2 && weight.size(0) == x.size(1) && weight.size(1) == h.size(2),
              "bernoulli_linear_log_likelihood: expected weight of shape [", x.size(1), ", ", h.size(2),
              "], got ", weight.sizes());
  TORCH_CHECK(bias.dim() == 1 && bias.size(0) == x.size(1),
              "bernoulli_linear_log_likelihood: expected bias [", x.size(1), "], got ", bias.sizes());
  const int64_t k = h.size(0), batch = h.size(1), hidden = h.size(2), dim = x.size(1);
  const auto xs = x.to(h.scalar_type());
  // Σ_d x_d l_d = h·(Wᵀx) + b·x: [K, B, H]·[B, H] -> [K, B]. An elementwise product and a sum:
  // measured 30 times faster than the same as a broadcast batched matmul of 1 x H by H x 1.
  const auto data_term = (h * torch::matmul(xs, weight)).sum(-1) + torch::mv(xs, bias);
  const auto rows = h.reshape({k * batch, hidden});
  if (!use_cpu_kernel(rows)) {
    return data_term - torch::softplus(torch::addmm(bias, rows, weight.t())).sum(-1).view({k, batch});
  }
  // h Wᵀ a block of rows at a time into one reused buffer, each block summed while in cache; the
  // bias is added inside the sum (addmm would first copy it into every row: 3% of the time).
  const int64_t n = k * batch;
  const int64_t block = std::min(n, kBlockRows);
  auto buffer = torch::empty({block, dim}, rows.options());
  auto softplus = torch::empty({n}, rows.options());
  const auto weight_t = weight.t();
  const auto bias_values = bias.contiguous();
  for (int64_t start = 0; start < n; start += block) {
    const int64_t r = std::min(block, n - start);
    auto products = buffer.narrow(0, 0, r);
    torch::mm_out(products, rows.narrow(0, start, r), weight_t);
    softplus_sum_cpu(products.data_ptr<float>(), bias_values.data_ptr<float>(), r, dim,
                     softplus.data_ptr<float>() + start);
  }
  return data_term - softplus.view({k, batch});
}

}  // namespace lvm::nn
