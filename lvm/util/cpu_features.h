#pragma once
// Which hand-vectorised CPU kernels this build and this CPU can run. The kernels are compiled
// for AVX2 + FMA with function target attributes (the rest of the build stays generic), and are
// called only when the CPU reports both.

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LVM_HAVE_AVX2_KERNEL 1
#endif

namespace lvm::util {

/// Whether the CPU running this process has AVX2 and FMA (false where the build has no such kernels).
inline bool cpu_has_avx2() {
#ifdef LVM_HAVE_AVX2_KERNEL
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
#else
  return false;
#endif
}

}  // namespace lvm::util
