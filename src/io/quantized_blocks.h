// ggml's quantised block layouts (GGUF's Q8_0, Q4_0, Q4_K): decoding of their
// blocks to float32 and encoding float32 into them, little-endian as the files
// store them.
#pragma once
#include <cstdint>

namespace untwist {

// An IEEE half stored little-endian at `bytes`.
float half_to_float(const uint8_t* bytes);

// Dequantisation of `blocks` whole blocks (32 values for Q8_0/Q4_0, 256 for
// Q4_K) from `data` into `out`, following the ggml block layouts.
void dequantize_q8_0(const uint8_t* data, int64_t blocks, float* out);
void dequantize_q4_0(const uint8_t* data, int64_t blocks, float* out);
void dequantize_q4_k(const uint8_t* data, int64_t blocks, float* out);

// Quantisation of `blocks` whole blocks of `values` into `out` (34, 18 or 144
// bytes per block), rounding to nearest: Q8_0 and Q4_0 scale by the value of
// largest magnitude as ggml does; Q4_K sets each sub-block's scale and
// minimum from its range (no search), quantised to 6 bits.
void quantize_q8_0(const float* values, int64_t blocks, uint8_t* out);
void quantize_q4_0(const float* values, int64_t blocks, uint8_t* out);
void quantize_q4_k(const float* values, int64_t blocks, uint8_t* out);

}  // namespace untwist
