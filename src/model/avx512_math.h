// Vector math for the AVX-512 kernels (fused attention, activations). Only
// functions marked UNTWIST_AVX512_BF16 use AVX-512: the files that include
// this stay runnable on every x86-64 CPU and call them only where cpuid says
// the CPU has AVX512-BF16 (util/cpu_features.h).
#pragma once

namespace untwist {
constexpr float kLog2e = 1.4426950408889634f;
}  // namespace untwist

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define UNTWIST_HAS_AVX512_KERNELS 1
#define UNTWIST_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,fma")))

namespace untwist {

// 2^y to float32 precision: 2^round(y) times a degree-6 polynomial of 2^f on
// [-0.5, 0.5]. Below -150 (and -inf) it gives 0, past 128 +inf.
UNTWIST_AVX512_BF16 inline __m512 exp2_avx512(__m512 y) {
  y = _mm512_max_ps(y, _mm512_set1_ps(-150.0f));
  const __m512 n = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(y, n);
  __m512 poly = _mm512_set1_ps(1.5403530e-4f);  // ln(2)^k / k!, k = 6 .. 0
  poly = _mm512_fmadd_ps(poly, f, _mm512_set1_ps(1.3333558e-3f));
  poly = _mm512_fmadd_ps(poly, f, _mm512_set1_ps(9.6181291e-3f));
  poly = _mm512_fmadd_ps(poly, f, _mm512_set1_ps(5.5504109e-2f));
  poly = _mm512_fmadd_ps(poly, f, _mm512_set1_ps(2.4022651e-1f));
  poly = _mm512_fmadd_ps(poly, f, _mm512_set1_ps(6.9314718e-1f));
  poly = _mm512_fmadd_ps(poly, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(poly, n);
}

}  // namespace untwist

#endif
