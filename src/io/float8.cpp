#include "io/float8.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace untwist {

namespace {

// Value of a sign/exponent/mantissa float with the given field widths.
float decode_minifloat(uint8_t bits, int mantissa_bits, int bias) {
  const int exponent_bits = 7 - mantissa_bits;
  const int sign = (bits >> 7) & 1;
  const int exponent = (bits >> mantissa_bits) & ((1 << exponent_bits) - 1);
  const int mantissa = bits & ((1 << mantissa_bits) - 1);
  const float fraction = static_cast<float>(mantissa) / static_cast<float>(1 << mantissa_bits);
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(fraction, 1 - bias);  // subnormal
  } else {
    magnitude = std::ldexp(1.0f + fraction, exponent - bias);
  }
  return sign ? -magnitude : magnitude;
}

using Table = std::array<float, 256>;

Table make_e4m3_table() {
  Table table{};
  for (int i = 0; i < 256; ++i) {
    const bool is_nan = (i & 0x7F) == 0x7F;
    table[i] = is_nan ? std::numeric_limits<float>::quiet_NaN() : decode_minifloat(static_cast<uint8_t>(i), 3, 7);
  }
  return table;
}

Table make_e5m2_table() {
  Table table{};
  for (int i = 0; i < 256; ++i) {
    const int exponent = (i >> 2) & 0x1F;
    const int mantissa = i & 0x3;
    if (exponent == 0x1F) {
      table[i] = mantissa ? std::numeric_limits<float>::quiet_NaN()
                          : ((i & 0x80) ? -std::numeric_limits<float>::infinity()
                                        : std::numeric_limits<float>::infinity());
    } else {
      table[i] = decode_minifloat(static_cast<uint8_t>(i), 2, 15);
    }
  }
  return table;
}

const Table& e4m3_table() {
  static const Table table = make_e4m3_table();
  return table;
}

const Table& e5m2_table() {
  static const Table table = make_e5m2_table();
  return table;
}

template <typename Out>
void decode_into(const uint8_t* in, int64_t count, const Table& table, Out* out) {
  std::array<Out, 256> values;  // the table in the output type: exact for both
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<Out>(table[i]);
  at::parallel_for(0, count, 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = values[in[i]];
  });
}

at::Tensor decode_with(const at::Tensor& bytes, const Table& table, at::ScalarType dtype) {
  const at::Tensor source = bytes.contiguous();
  const bool bf16 = dtype == at::kBFloat16;
  at::Tensor result = at::empty(source.sizes(), bf16 ? at::kBFloat16 : at::kFloat);
  const uint8_t* in = source.data_ptr<uint8_t>();
  if (bf16) {
    decode_into(in, source.numel(), table, result.data_ptr<at::BFloat16>());
  } else {
    decode_into(in, source.numel(), table, result.data_ptr<float>());
  }
  return dtype == result.scalar_type() ? result : result.to(dtype);
}

}  // namespace

uint8_t encode_f8_e4m3(float value) {
  if (std::isnan(value)) return 0x7F;
  const Table& table = e4m3_table();
  const float magnitude = std::fabs(value);
  // Codes 0x00..0x7E hold the non-negative values in increasing order.
  const float* begin = table.data();
  const float* end = table.data() + 0x7F;
  const float* above = std::lower_bound(begin, end, magnitude);
  int code;
  if (above == end) {
    code = 0x7E;  // saturate at 448
  } else if (above == begin) {
    code = 0;
  } else {
    const float high = *above, low = *(above - 1);
    const int high_code = static_cast<int>(above - begin);
    code = (magnitude - low < high - magnitude || (magnitude - low == high - magnitude && (high_code & 1)))
               ? high_code - 1
               : high_code;  // nearest, ties to the even code
  }
  return static_cast<uint8_t>(code | (std::signbit(value) ? 0x80 : 0));
}

at::Tensor encode_f8_e4m3(const at::Tensor& values) {
  const at::Tensor source = values.to(at::kFloat).contiguous();
  at::Tensor result = at::empty(source.sizes(), at::kByte);
  const float* in = source.data_ptr<float>();
  uint8_t* out = result.data_ptr<uint8_t>();
  for (int64_t i = 0; i < source.numel(); ++i) out[i] = encode_f8_e4m3(in[i]);
  return result;
}

float decode_f8_e4m3(uint8_t bits) { return e4m3_table()[bits]; }
float decode_f8_e5m2(uint8_t bits) { return e5m2_table()[bits]; }

at::Tensor decode_f8_e4m3(const at::Tensor& bytes, at::ScalarType dtype) {
  return decode_with(bytes, e4m3_table(), dtype);
}
at::Tensor decode_f8_e5m2(const at::Tensor& bytes, at::ScalarType dtype) {
  return decode_with(bytes, e5m2_table(), dtype);
}

}  // namespace untwist
