#include "io/stored_tensor.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "io/float8.h"
#include "io/quantized_blocks.h"
#include "util/errors.h"

namespace untwist {

namespace {

using BlockDecoder = void (*)(const uint8_t* data, int64_t blocks, float* out);
using BlockEncoder = void (*)(const float* values, int64_t blocks, uint8_t* out);

BlockEncoder block_encoder(Encoding encoding) {
  switch (encoding) {
    case Encoding::Q8_0: return quantize_q8_0;
    case Encoding::Q4_0: return quantize_q4_0;
    case Encoding::Q4_K: return quantize_q4_k;
    case Encoding::F8_E4M3:
    case Encoding::F8_E5M2: break;
  }
  return nullptr;
}

BlockDecoder block_decoder(Encoding encoding) {
  switch (encoding) {
    case Encoding::Q8_0: return dequantize_q8_0;
    case Encoding::Q4_0: return dequantize_q4_0;
    case Encoding::Q4_K: return dequantize_q4_k;
    case Encoding::F8_E4M3:
    case Encoding::F8_E5M2: break;
  }
  return nullptr;
}

// Whole blocks of `bytes` -> [shape] in `dtype` (decoded straight into
// bfloat16 or float32; other dtypes through float32), split across threads.
at::Tensor decode_blocks(Encoding encoding, const at::Tensor& bytes, const std::vector<int64_t>& shape,
                         at::ScalarType dtype) {
  const bool bf16 = dtype == at::kBFloat16;
  at::Tensor out = at::empty(shape, bf16 ? at::kBFloat16 : at::kFloat);
  const int64_t block_values = encoding_block_values(encoding), block_bytes = encoding_block_bytes(encoding);
  const uint8_t* data = bytes.data_ptr<uint8_t>();
  const BlockDecoder decode = block_decoder(encoding);
  // A thread decodes about 256k values at once (into bfloat16: through a float32 buffer of that size).
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 18) / block_values);
  at::parallel_for(0, out.numel() / block_values, chunk, [&](int64_t begin, int64_t end) {
    if (!bf16) {
      decode(data + begin * block_bytes, end - begin, out.data_ptr<float>() + begin * block_values);
      return;
    }
    std::vector<float> values(static_cast<size_t>(chunk * block_values));
    const at::Tensor flat = out.view({-1});
    for (int64_t first = begin; first < end; first += chunk) {
      const int64_t blocks = std::min(chunk, end - first);
      decode(data + first * block_bytes, blocks, values.data());
      flat.narrow(0, first * block_values, blocks * block_values)  // rounded by libtorch's conversion
          .copy_(at::from_blob(values.data(), {blocks * block_values}, at::kFloat));
    }
  });
  return dtype == out.scalar_type() ? out : out.to(dtype);
}

}  // namespace

const char* encoding_name(Encoding encoding) {
  switch (encoding) {
    case Encoding::F8_E4M3: return "F8_E4M3";
    case Encoding::F8_E5M2: return "F8_E5M2";
    case Encoding::Q8_0: return "Q8_0";
    case Encoding::Q4_0: return "Q4_0";
    case Encoding::Q4_K: return "Q4_K";
  }
  return "?";
}

int64_t encoding_block_values(Encoding encoding) {
  switch (encoding) {
    case Encoding::Q8_0:
    case Encoding::Q4_0: return 32;
    case Encoding::Q4_K: return 256;
    case Encoding::F8_E4M3:
    case Encoding::F8_E5M2: break;
  }
  return 1;
}

int64_t encoding_block_bytes(Encoding encoding) {
  switch (encoding) {
    case Encoding::Q8_0: return 34;
    case Encoding::Q4_0: return 18;
    case Encoding::Q4_K: return 144;
    case Encoding::F8_E4M3:
    case Encoding::F8_E5M2: break;
  }
  return 1;
}

StoredTensor::StoredTensor(at::Tensor plain) : plain_(std::move(plain)) {}

StoredTensor::StoredTensor(Encoding encoding, at::Tensor bytes, std::vector<int64_t> shape)
    : bytes_(std::move(bytes)), encoding_(encoding), shape_(std::move(shape)) {
  int64_t values = 1;
  for (const int64_t size : shape_) values *= size;
  const int64_t block_values = encoding_block_values(encoding);
  if (bytes_.scalar_type() != at::kByte || bytes_.dim() != 1 || !bytes_.is_contiguous() ||
      values % block_values != 0 || bytes_.numel() != values / block_values * encoding_block_bytes(encoding)) {
    throw DataError(std::string("encoded ") + encoding_name(encoding) + " tensor of shape " + shape_string(shape_) +
                    " does not hold whole blocks of its values");
  }
}

StoredTensor StoredTensor::encode(const at::Tensor& values, Encoding encoding) {
  const at::Tensor source = values.to(at::kFloat).contiguous();
  const std::vector<int64_t> shape = source.sizes().vec();
  if (encoding == Encoding::F8_E4M3) return StoredTensor(encoding, encode_f8_e4m3(source).flatten(), shape);
  const BlockEncoder quantize = block_encoder(encoding);
  const int64_t block_values = encoding_block_values(encoding);
  if (!quantize || source.dim() == 0 || source.size(-1) % block_values != 0) {
    throw UsageError(std::string("cannot encode a tensor of shape ") + shape_string(shape) + " as " +
                     encoding_name(encoding));
  }
  const int64_t blocks = source.numel() / block_values;
  at::Tensor bytes = at::empty({blocks * encoding_block_bytes(encoding)}, at::kByte);
  const float* data = source.data_ptr<float>();
  uint8_t* out = bytes.data_ptr<uint8_t>();
  at::parallel_for(0, blocks, 64, [&](int64_t begin, int64_t end) {
    quantize(data + begin * block_values, end - begin, out + begin * encoding_block_bytes(encoding));
  });
  return StoredTensor(encoding, bytes, shape);
}

int64_t StoredTensor::stored_bytes() const {
  if (encoded()) return bytes_.numel();
  return plain_.defined() ? plain_.numel() * static_cast<int64_t>(plain_.element_size()) : 0;
}

std::string StoredTensor::type_name() const {
  if (encoded()) return encoding_name(encoding_);
  return plain_.defined() ? c10::toString(plain_.scalar_type()) : "undefined";
}

at::Tensor StoredTensor::as(at::ScalarType dtype) const {
  if (!encoded()) return plain_.scalar_type() == dtype ? plain_ : plain_.to(dtype);
  if (encoding_ == Encoding::F8_E4M3) return decode_f8_e4m3(bytes_, dtype).view(shape_);
  if (encoding_ == Encoding::F8_E5M2) return decode_f8_e5m2(bytes_, dtype).view(shape_);
  return decode_blocks(encoding_, bytes_, shape_, dtype);
}

}  // namespace untwist
