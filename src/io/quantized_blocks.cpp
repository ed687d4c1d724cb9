#include "io/quantized_blocks.h"

#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>

namespace untwist {

namespace {

// Stores `value` as a little-endian half and returns what the half holds.
float put_half(float value, uint8_t* out) {
  const c10::Half half(value);
  out[0] = static_cast<uint8_t>(half.x & 0xFF);
  out[1] = static_cast<uint8_t>(half.x >> 8);
  return static_cast<float>(half);
}

int nearest(float value, int low, int high) {
  return std::clamp(static_cast<int>(std::lround(value)), low, high);
}

// Q4_K's 12 bytes of 6-bit scales and mins for 8 sub-blocks (see dequantize_q4_k).
void pack_scales_and_mins(const int* scales, const int* mins, uint8_t* packed) {
  for (int sub = 0; sub < 4; ++sub) {
    packed[sub] = static_cast<uint8_t>(scales[sub] | ((scales[sub + 4] >> 4) << 6));
    packed[sub + 4] = static_cast<uint8_t>(mins[sub] | ((mins[sub + 4] >> 4) << 6));
    packed[sub + 8] = static_cast<uint8_t>((scales[sub + 4] & 0x0F) | ((mins[sub + 4] & 0x0F) << 4));
  }
}

}  // namespace

float half_to_float(const uint8_t* bytes) {
  return static_cast<float>(c10::Half(static_cast<uint16_t>(bytes[0] | (bytes[1] << 8)), c10::Half::from_bits()));
}

void dequantize_q8_0(const uint8_t* data, int64_t blocks, float* out) {
  for (int64_t b = 0; b < blocks; ++b, data += 34, out += 32) {
    const float scale = half_to_float(data);
    for (int i = 0; i < 32; ++i) out[i] = scale * static_cast<float>(static_cast<int8_t>(data[2 + i]));
  }
}

void dequantize_q4_0(const uint8_t* data, int64_t blocks, float* out) {
  for (int64_t b = 0; b < blocks; ++b, data += 18, out += 32) {
    const float scale = half_to_float(data);
    const uint8_t* quants = data + 2;
    for (int i = 0; i < 16; ++i) {
      out[i] = scale * static_cast<float>((quants[i] & 0x0F) - 8);       // low nibbles: values 0..15
      out[i + 16] = scale * static_cast<float>((quants[i] >> 4) - 8);    // high nibbles: values 16..31
    }
  }
}

void dequantize_q4_k(const uint8_t* data, int64_t blocks, float* out) {
  // Super-block of 256: f16 d, f16 dmin, 12 bytes of 6-bit (scale, min) pairs
  // for 8 sub-blocks of 32, then 128 bytes of 4-bit quants.
  const auto scale_and_min = [](const uint8_t* packed, int sub, int* scale, int* min) {
    if (sub < 4) {
      *scale = packed[sub] & 63;
      *min = packed[sub + 4] & 63;
    } else {
      *scale = (packed[sub + 4] & 0x0F) | ((packed[sub - 4] >> 6) << 4);
      *min = (packed[sub + 4] >> 4) | ((packed[sub] >> 6) << 4);
    }
  };
  for (int64_t b = 0; b < blocks; ++b, data += 144) {
    const float d = half_to_float(data), dmin = half_to_float(data + 2);
    const uint8_t* packed = data + 4;
    const uint8_t* quants = data + 16;
    for (int chunk = 0; chunk < 4; ++chunk, quants += 32) {  // 64 values: low nibbles, then high nibbles
      int scale_low = 0, min_low = 0, scale_high = 0, min_high = 0;
      scale_and_min(packed, 2 * chunk, &scale_low, &min_low);
      scale_and_min(packed, 2 * chunk + 1, &scale_high, &min_high);
      for (int i = 0; i < 32; ++i) {
        *out++ = d * scale_low * (quants[i] & 0x0F) - dmin * min_low;
      }
      for (int i = 0; i < 32; ++i) {
        *out++ = d * scale_high * (quants[i] >> 4) - dmin * min_high;
      }
    }
  }
}

void quantize_q8_0(const float* values, int64_t blocks, uint8_t* out) {
  for (int64_t b = 0; b < blocks; ++b, values += 32, out += 34) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(values[i]));
    const float d = put_half(amax / 127, out);
    for (int i = 0; i < 32; ++i) {
      out[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(d > 0 ? nearest(values[i] / d, -127, 127) : 0));
    }
  }
}

void quantize_q4_0(const float* values, int64_t blocks, uint8_t* out) {
  for (int64_t b = 0; b < blocks; ++b, values += 32, out += 18) {
    float extreme = 0;  // the value of largest magnitude, with its sign: it maps to -8
    for (int i = 0; i < 32; ++i) extreme = std::fabs(values[i]) > std::fabs(extreme) ? values[i] : extreme;
    const float d = put_half(extreme / -8, out);
    const auto quant = [&](float value) { return d != 0 ? nearest(value / d + 8, 0, 15) : 8; };
    for (int i = 0; i < 16; ++i) out[2 + i] = static_cast<uint8_t>(quant(values[i]) | (quant(values[i + 16]) << 4));
  }
}

void quantize_q4_k(const float* values, int64_t blocks, uint8_t* out) {
  for (int64_t b = 0; b < blocks; ++b, values += 256, out += 144) {
    // Each sub-block of 32: value = scale * q - min with q in 0..15, min >= 0.
    float scales[8], mins[8], max_scale = 0, max_min = 0;
    for (int sub = 0; sub < 8; ++sub) {
      const float* x = values + 32 * sub;
      const float low = std::min(0.0f, *std::min_element(x, x + 32)), high = *std::max_element(x, x + 32);
      scales[sub] = (high - low) / 15;
      mins[sub] = -low;
      max_scale = std::max(max_scale, scales[sub]);
      max_min = std::max(max_min, mins[sub]);
    }
    const float d = put_half(max_scale / 63, out), dmin = put_half(max_min / 63, out + 2);
    int scale_codes[8], min_codes[8];
    for (int sub = 0; sub < 8; ++sub) {
      scale_codes[sub] = d > 0 ? nearest(scales[sub] / d, 0, 63) : 0;
      min_codes[sub] = dmin > 0 ? nearest(mins[sub] / dmin, 0, 63) : 0;
    }
    pack_scales_and_mins(scale_codes, min_codes, out + 4);
    uint8_t* quants = out + 16;
    for (int chunk = 0; chunk < 4; ++chunk, quants += 32) {  // sub-blocks 2c (low nibbles), 2c+1 (high)
      int codes[2][32];
      for (int half = 0; half < 2; ++half) {
        const int sub = 2 * chunk + half;
        const float step = d * scale_codes[sub], offset = dmin * min_codes[sub];
        for (int i = 0; i < 32; ++i) codes[half][i] = step > 0 ? nearest((values[32 * sub + i] + offset) / step, 0, 15) : 0;
      }
      for (int i = 0; i < 32; ++i) quants[i] = static_cast<uint8_t>(codes[0][i] | (codes[1][i] << 4));
    }
  }
}

}  // namespace untwist
