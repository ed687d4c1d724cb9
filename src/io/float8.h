// Decoding (and E4M3 encoding) of the 8-bit float formats safetensors stores (F8_E4M3, F8_E5M2).
// libtorch 1.13 has no float8 type, so these are widened to float32 or
// bfloat16 on read.
#pragma once
#include <ATen/ATen.h>

namespace untwist {

// E4M3 "fn": bias 7, no infinities, 0x7F/0xFF are NaN.
float decode_f8_e4m3(uint8_t bits);
// E5M2: bias 15, IEEE-style infinities and NaNs.
float decode_f8_e5m2(uint8_t bits);

// The nearest E4M3 value (ties to even), saturating at +-448; NaN -> 0x7F.
uint8_t encode_f8_e4m3(float value);
// [any shape] -> same shape uint8.
at::Tensor encode_f8_e4m3(const at::Tensor& values);

// [any shape] uint8 -> same shape float32, or bfloat16 (every float8 value is
// exactly a bfloat16 one), split across threads.
at::Tensor decode_f8_e4m3(const at::Tensor& bytes, at::ScalarType dtype = at::kFloat);
at::Tensor decode_f8_e5m2(const at::Tensor& bytes, at::ScalarType dtype = at::kFloat);

}  // namespace untwist
