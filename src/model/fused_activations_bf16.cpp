#include "model/fused_activations_bf16.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "model/avx512_math.h"
#include "util/cpu_features.h"

namespace untwist {

namespace {

constexpr int64_t kChunk = 4096;  // values a task takes from one row

#ifdef UNTWIST_HAS_AVX512_KERNELS

// x sigmoid(z) = x / (1 + 2^(-z log2 e)), z = 2u for the GELU and x for SiLU.
UNTWIST_AVX512_BF16 inline __m512 activate(Activation activation, __m512 x) {
  __m512 z = x;
  if (activation == Activation::GeluTanh) {
    z = _mm512_mul_ps(x, _mm512_fmadd_ps(_mm512_mul_ps(x, x), _mm512_set1_ps(static_cast<float>(kGeluB)),
                                                      _mm512_set1_ps(static_cast<float>(kGeluA))));
  }
  const __m512 e = exp2_avx512(_mm512_mul_ps(z, _mm512_set1_ps(-kLog2e)));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

UNTWIST_AVX512_BF16 inline __m512 widen(__m256i bf16) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bf16), 16));
}

UNTWIST_AVX512_BF16 inline __m256i narrow(__m512 x) { return (__m256i)_mm512_cvtneps_pbh(x); }

UNTWIST_AVX512_BF16 void activate_span(Activation activation, const uint16_t* in, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), narrow(activate(activation, widen(x))));
  }
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m256i x = _mm256_maskz_loadu_epi16(mask, in + i);
    _mm256_mask_storeu_epi16(out + i, mask, narrow(activate(activation, widen(x))));
  }
}

#endif

// x as rows of its last dimension with one stride between them: x itself
// when its last dimension has unit stride and its leading dimensions collapse
// into one, else a contiguous copy.
struct Rows {
  at::Tensor source;
  int64_t count = 1, length = 1, stride = 1;
};

Rows as_rows(const at::Tensor& x) {
  Rows rows;
  rows.length = x.dim() == 0 ? 1 : x.size(-1);
  rows.count = rows.length == 0 ? 0 : x.numel() / rows.length;
  bool fits = x.dim() == 0 || x.stride(-1) == 1 || rows.length == 1;
  int64_t inner = -1, outer = -1;  // the innermost leading dimension of more than one row, and the last seen
  for (int64_t d = x.dim() - 2; fits && d >= 0; --d) {
    if (x.size(d) == 1) continue;
    if (outer >= 0) fits = x.stride(d) == x.stride(outer) * x.size(outer);
    if (inner < 0) inner = d;
    outer = d;
  }
  rows.source = fits ? x : x.contiguous();
  rows.stride = fits && inner >= 0 ? x.stride(inner) : rows.length;
  return rows;
}

const uint16_t* bits(const at::Tensor& t) { return reinterpret_cast<const uint16_t*>(t.data_ptr<at::BFloat16>()); }

}  // namespace

bool fused_bf16_activation_runs(const at::Tensor& x) {
#ifdef UNTWIST_HAS_AVX512_KERNELS
  return bf16_support().avx512_bf16 && x.device().is_cpu() && x.scalar_type() == at::kBFloat16 &&
         !(at::GradMode::is_enabled() && x.requires_grad());
#else
  (void)x;
  return false;
#endif
}

at::Tensor fused_bf16_activation(const at::Tensor& x, Activation activation) {
  if (!fused_bf16_activation_runs(x)) throw std::logic_error("fused_bf16_activation called where it does not run");
  at::Tensor out = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  if (x.numel() == 0) return out;
#ifdef UNTWIST_HAS_AVX512_KERNELS
  const Rows rows = as_rows(x);
  const int64_t columns = rows.length, row_stride = rows.stride;
  const int64_t chunks = (columns + kChunk - 1) / kChunk;
  const uint16_t* in = bits(rows.source);
  uint16_t* result = reinterpret_cast<uint16_t*>(out.data_ptr<at::BFloat16>());
  at::parallel_for(0, rows.count * chunks, 4, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t row = task / chunks, column = task % chunks * kChunk;
      activate_span(activation, in + row * row_stride + column, result + row * columns + column,
                    std::min(kChunk, columns - column));
    }
  });
#endif
  return out;
}

}  // namespace untwist
