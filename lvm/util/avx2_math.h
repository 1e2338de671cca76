#pragma once
// Vectorised float functions for lvm's AVX2 kernels (8 lanes), compiled with function target
// attributes like the kernels that call them; only included where LVM_HAVE_AVX2_KERNEL is set.

#include "lvm/util/cpu_features.h"

#ifdef LVM_HAVE_AVX2_KERNEL

namespace lvm::util {

// e = exp(t) for t <= 0: t = n ln2 + r with |r| <= ln2/2 (ln2 split in two so n·ln2_hi is
// exact), exp(r) by its Taylor series to degree 7 (remainder < 1e-8 relative, below float
// rounding), times 2^n built in the exponent bits. t is clamped at -87 so 2^n stays a normal
// float; below that 1 + e rounds to 1 anyway.
__attribute__((target("avx2,fma"))) inline __m256 exp_nonpositive(__m256 t) {
  t = _mm256_max_ps(t, _mm256_set1_ps(-87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(1.4426950408889634f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), t);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

// tanh(x). Below |x| = 0.5 its Taylor series to x^15 (the first omitted term is < 1e-8 of the
// value there), where (1 − e)/(1 + e) would lose digits to cancellation; above, with
// e = exp(−2|x|) <= 1/e, that quotient and x's sign. NaN stays NaN. A few float roundings each
// way: within 4 ulp of tanh (tests/nn/fused_tanh_test.cpp).
__attribute__((target("avx2,fma"))) inline __m256 tanh(__m256 x) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256 magnitude = _mm256_andnot_ps(sign_bit, x);
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-929569.0f / 638512875.0f);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(21844.0f / 6081075.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1382.0f / 155925.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(62.0f / 2835.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-17.0f / 315.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.0f / 15.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.0f / 3.0f));
  const __m256 series = _mm256_fmadd_ps(_mm256_mul_ps(x, x2), p, x);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp_nonpositive(_mm256_mul_ps(magnitude, _mm256_set1_ps(-2.0f)));
  const __m256 quotient = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
  const __m256 signed_quotient = _mm256_or_ps(quotient, _mm256_and_ps(sign_bit, x));
  const __m256 small = _mm256_cmp_ps(magnitude, _mm256_set1_ps(0.5f), _CMP_LT_OQ);
  const __m256 result = _mm256_blendv_ps(signed_quotient, series, small);
  return _mm256_blendv_ps(result, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

}  // namespace lvm::util

#endif
