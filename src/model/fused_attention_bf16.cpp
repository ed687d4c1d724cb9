#include "model/fused_attention_bf16.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "model/avx512_math.h"
#include "util/cpu_features.h"

namespace untwist {

namespace {

constexpr int kRows = 6;        // queries per block
constexpr int kKeys = 64;       // keys per block
constexpr int kVectors = kKeys / 16;  // vectors of 16 scores per query: kRows x kVectors = 24 independent sums
constexpr int kTileRows = 96;   // queries that share each block of keys while it is in L1

// One problem's keys and values laid out for the dot-product instructions,
// which multiply pairs of bfloat16 values and add both products to one float32 lane.
struct Packed {
  const uint16_t* keys;    // [Lk'/16][D/2][16 keys][2 dims]
  const uint16_t* values;  // [Lk'/2][D][2 keys]
  const float* bias;       // [Lk'] in log2 units; -inf for the padding keys
  int64_t key_blocks;      // Lk' / kKeys (Lk' = Lk rounded up to whole blocks)
};

const uint16_t* bits(const at::Tensor& t) { return reinterpret_cast<const uint16_t*>(t.data_ptr<at::BFloat16>()); }

// Lays out problem p of k and v ([P, Lk, D], contiguous) and the keys' biases.
void pack(const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias, int64_t p, int64_t padded_keys,
          uint16_t* keys_out, uint16_t* values_out, float* bias_out) {
  const int64_t keys = k.size(1), dim = k.size(2);
  const uint16_t* key = bits(k) + p * keys * dim;
  const uint16_t* value = bits(v) + p * keys * dim;
  const float* key_bias = bias.defined() ? bias.data_ptr<float>() + p * keys : nullptr;
  for (int64_t j = 0; j < padded_keys; ++j) {
    const bool real = j < keys;
    uint16_t* group = keys_out + (j / 16) * dim * 16;
    for (int64_t d = 0; d < dim; d += 2) {
      group[(d / 2 * 16 + j % 16) * 2] = real ? key[j * dim + d] : 0;
      group[(d / 2 * 16 + j % 16) * 2 + 1] = real ? key[j * dim + d + 1] : 0;
    }
    uint16_t* pair = values_out + (j / 2) * dim * 2 + j % 2;
    for (int64_t d = 0; d < dim; ++d) pair[d * 2] = real ? value[j * dim + d] : 0;
    if (!real) {
      bias_out[j] = -std::numeric_limits<float>::infinity();
    } else {
      bias_out[j] = key_bias ? key_bias[j] * kLog2e : 0.0f;
    }
  }
}

#ifdef UNTWIST_HAS_AVX512_KERNELS

// A pair of bfloat16 values (one 32-bit lane) repeated over a vector.
UNTWIST_AVX512_BF16 inline __m512bh pair_broadcast(const uint16_t* pair) {
  int32_t lane;
  std::memcpy(&lane, pair, sizeof lane);
  return (__m512bh)_mm512_set1_epi32(lane);
}

UNTWIST_AVX512_BF16 inline __m512bh load_pairs(const uint16_t* p) { return (__m512bh)_mm512_loadu_si512(p); }

// The running state of kRows queries: their outputs so far (unnormalised),
// their logits' maximum and the sums of their weights under it.
template <int D>
struct RowState {
  float (*o)[D];
  float* top;
  __m512* sums;
};

// One block of kKeys keys (block b of `in`) for kRows queries q (rows of D).
template <int D>
UNTWIST_AVX512_BF16 inline void attend_block(const uint16_t* q, const Packed& in, int64_t b, __m512 scale,
                                             const RowState<D>& state) {
  alignas(64) uint16_t weights[kRows][kKeys];
  alignas(64) float shift[16] = {}, alpha[16];
  // Scores of kRows queries by kKeys keys, in log2 units.
  __m512 s[kRows][kVectors];
  for (int r = 0; r < kRows; ++r) {
    for (int v = 0; v < kVectors; ++v) s[r][v] = _mm512_setzero_ps();
  }
  const uint16_t* keys = in.keys + b * kVectors * D * 16;
  for (int d = 0; d < D / 2; ++d) {
    __m512bh a[kVectors];
    for (int v = 0; v < kVectors; ++v) a[v] = load_pairs(keys + (v * D / 2 + d) * 32);
    for (int r = 0; r < kRows; ++r) {
      const __m512bh pair = pair_broadcast(q + r * D + 2 * d);
      for (int v = 0; v < kVectors; ++v) s[r][v] = _mm512_dpbf16_ps(s[r][v], a[v], pair);
    }
  }
  __m512 bias[kVectors];
  for (int v = 0; v < kVectors; ++v) bias[v] = _mm512_loadu_ps(in.bias + b * kKeys + v * 16);
  bool moved = false;
  for (int r = 0; r < kRows; ++r) {
    __m512 row_max = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    for (int v = 0; v < kVectors; ++v) {
      s[r][v] = _mm512_fmadd_ps(s[r][v], scale, bias[v]);
      row_max = _mm512_max_ps(row_max, s[r][v]);
    }
    const float top = std::max(state.top[r], _mm512_reduce_max_ps(row_max));
    shift[r] = state.top[r] - top;
    moved |= top > state.top[r];
    state.top[r] = top;
  }
  // A new maximum rescales what was summed under the old one.
  if (moved) _mm512_store_ps(alpha, exp2_avx512(_mm512_load_ps(shift)));
  for (int r = 0; r < kRows; ++r) {
    const __m512 top = _mm512_set1_ps(state.top[r]);
    __m512 p[kVectors];
    for (int v = 0; v < kVectors; ++v) p[v] = exp2_avx512(_mm512_sub_ps(s[r][v], top));
    __m512 block_sum = p[0];
    for (int v = 1; v < kVectors; ++v) block_sum = _mm512_add_ps(block_sum, p[v]);
    state.sums[r] = moved ? _mm512_fmadd_ps(state.sums[r], _mm512_set1_ps(alpha[r]), block_sum)
                          : _mm512_add_ps(state.sums[r], block_sum);
    for (int v = 0; v < kVectors; v += 2) {
      _mm512_store_si512(weights[r] + v * 16, (__m512i)_mm512_cvtne2ps_pbh(p[v + 1], p[v]));
    }
  }
  // o = o alpha + weights v, kVectors x 16 output dims at a time (kRows x
  // kVectors independent sums, so that the dot products' latency is hidden).
  const uint16_t* values = in.values + b * kKeys * D;
  constexpr int kDims = std::min(D, kVectors * 16);
  for (int j = 0; j < D; j += kDims) {
    __m512 acc[kRows][kDims / 16];
    for (int r = 0; r < kRows; ++r) {
      for (int v = 0; v < kDims / 16; ++v) {
        acc[r][v] = _mm512_load_ps(state.o[r] + j + v * 16);
        if (moved) acc[r][v] = _mm512_mul_ps(acc[r][v], _mm512_set1_ps(alpha[r]));
      }
    }
    for (int pair = 0; pair < kKeys / 2; ++pair) {
      __m512bh a[kDims / 16];
      for (int v = 0; v < kDims / 16; ++v) a[v] = load_pairs(values + (pair * D + j + v * 16) * 2);
      for (int r = 0; r < kRows; ++r) {
        const __m512bh w = pair_broadcast(weights[r] + 2 * pair);
        for (int v = 0; v < kDims / 16; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], a[v], w);
      }
    }
    for (int r = 0; r < kRows; ++r) {
      for (int v = 0; v < kDims / 16; ++v) _mm512_store_ps(state.o[r] + j + v * 16, acc[r][v]);
    }
  }
}

// Queries q (kTileRows rows of D, the ones past `rows` zero) against all of
// one problem's keys, a block of keys at a time for every kRows of them
// while the block is in L1; writes `rows` output rows of D at out.
template <int D>
UNTWIST_AVX512_BF16 void attend_tile(const uint16_t* q, const Packed& in, float scale2, int rows, uint16_t* out) {
  alignas(64) float o[kTileRows][D] = {};
  float top[kTileRows];
  __m512 sums[kTileRows];
  for (int r = 0; r < kTileRows; ++r) {
    top[r] = -1e30f;  // finite, so that a block of removed keys shifts by -inf, not NaN
    sums[r] = _mm512_setzero_ps();
  }
  const int groups = (rows + kRows - 1) / kRows;
  const __m512 scale = _mm512_set1_ps(scale2);
  for (int64_t b = 0; b < in.key_blocks; ++b) {
    for (int g = 0; g < groups; ++g) {
      attend_block<D>(q + g * kRows * D, in, b, scale, RowState<D>{o + g * kRows, top + g * kRows, sums + g * kRows});
    }
  }
  for (int r = 0; r < rows; ++r) {
    const float total = _mm512_reduce_add_ps(sums[r]);
    const __m512 inverse = _mm512_set1_ps(total > 0.0f ? 1.0f / total : 0.0f);
    for (int j = 0; j < D; j += 16) {
      const __m256bh row = _mm512_cvtneps_pbh(_mm512_mul_ps(_mm512_load_ps(o[r] + j), inverse));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + r * D + j), (__m256i)row);
    }
  }
}

using RowKernel = void (*)(const uint16_t*, const Packed&, float, int, uint16_t*);

RowKernel kernel_for(int64_t dim) {
  switch (dim) {
    case 32: return attend_tile<32>;
    case 64: return attend_tile<64>;
    case 128: return attend_tile<128>;
    default: return nullptr;
  }
}

#else

using RowKernel = void (*)(const uint16_t*, const Packed&, float, int, uint16_t*);
RowKernel kernel_for(int64_t) { return nullptr; }

#endif

}  // namespace

bool fused_bf16_attention_runs(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  if (!bf16_support().avx512_bf16 || kernel_for(q.size(-1)) == nullptr) return false;
  for (const at::Tensor* t : {&q, &k, &v}) {
    if (!t->device().is_cpu() || t->scalar_type() != at::kBFloat16) return false;
    if (at::GradMode::is_enabled() && t->requires_grad()) return false;
  }
  return k.size(-1) == q.size(-1) && v.size(-1) == q.size(-1);
}

at::Tensor fused_bf16_attention(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in,
                                const at::Tensor& bias_in, double scale) {
  TORCH_CHECK(fused_bf16_attention_runs(q_in, k_in, v_in), "fused bfloat16 attention does not run for these operands");
  const at::Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  const int64_t problems = q.size(0), queries = q.size(1), keys = k.size(1), dim = q.size(2);
  const at::Tensor bias = bias_in.defined() ? bias_in.to(at::kFloat).contiguous() : at::Tensor();
  const int64_t padded_keys = (keys + kKeys - 1) / kKeys * kKeys;
  const at::Tensor packed_keys = at::empty({problems, padded_keys * dim}, q.options());
  const at::Tensor packed_values = at::empty({problems, padded_keys * dim}, q.options());
  const at::Tensor packed_bias = at::empty({problems, padded_keys}, q.options().dtype(at::kFloat));
  at::parallel_for(0, problems, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      pack(k, v, bias, p, padded_keys, const_cast<uint16_t*>(bits(packed_keys[p])),
           const_cast<uint16_t*>(bits(packed_values[p])), packed_bias[p].data_ptr<float>());
    }
  });
  at::Tensor out = at::empty({problems, queries, dim}, q.options());
  const RowKernel kernel = kernel_for(dim);
  const float scale2 = static_cast<float>(scale) * kLog2e;
  const int64_t row_blocks = (queries + kTileRows - 1) / kTileRows;
  at::parallel_for(0, problems * row_blocks, 1, [&](int64_t begin, int64_t end) {
    alignas(64) uint16_t rows_in[kTileRows * 128];
    for (int64_t task = begin; task < end; ++task) {
      const int64_t p = task / row_blocks, first = task % row_blocks * kTileRows;
      const int rows = static_cast<int>(std::min<int64_t>(kTileRows, queries - first));
      std::memcpy(rows_in, bits(q) + (p * queries + first) * dim, rows * dim * sizeof(uint16_t));
      const int group_end = (rows + kRows - 1) / kRows * kRows;
      std::memset(rows_in + rows * dim, 0, (group_end - rows) * dim * sizeof(uint16_t));  // the last group's rest
      const Packed in{bits(packed_keys) + p * padded_keys * dim, bits(packed_values) + p * padded_keys * dim,
                      packed_bias.data_ptr<float>() + p * padded_keys, padded_keys / kKeys};
      kernel(rows_in, in, scale2, rows, const_cast<uint16_t*>(bits(out)) + (p * queries + first) * dim);
    }
  });
  return out;
}

}  // namespace untwist
