// GGUF: block dequantisation against values worked out by hand from the ggml
// block layouts, files written here by a small GGUF writer, a FLUX DiT
// quantised to Q8_0 / Q4_0 against the float32 model, and malformed files.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/float8.h"
#include "io/gguf.h"
#include "io/quantized_blocks.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "model/flux1/flux.h"
#include "model/flux1/flux_config.h"
#include "test_support.h"
#include "util/errors.h"

namespace untwist {
namespace {

namespace fs = std::filesystem;

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}
void put_string(std::string& out, const std::string& text) {
  put<uint64_t>(out, text.size());
  out += text;
}

struct GgufTensor {
  std::string name;
  std::vector<uint64_t> dims;  // ggml order: row length first
  uint32_t type;
  std::string data;
};

// A GGUF v3 file: one string metadata entry, then the tensors, 32-aligned.
std::string gguf_bytes(const std::vector<GgufTensor>& tensors, const std::string& extra_metadata = "",
                       uint64_t extra_count = 0) {
  std::string out = "GGUF";
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors.size());
  put<uint64_t>(out, 1 + extra_count);
  put_string(out, "general.architecture");
  put<uint32_t>(out, 8);
  put_string(out, "flux");
  out += extra_metadata;
  std::string data;
  for (const auto& tensor : tensors) {
    put_string(out, tensor.name);
    put<uint32_t>(out, static_cast<uint32_t>(tensor.dims.size()));
    for (uint64_t d : tensor.dims) put<uint64_t>(out, d);
    put<uint32_t>(out, tensor.type);
    while (data.size() % 32) data.push_back('\0');
    put<uint64_t>(out, data.size());
    data += tensor.data;
  }
  while (out.size() % 32) out.push_back('\0');
  return out + data;
}

std::string write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string half(float value) {
  const uint16_t bits = c10::Half(value).x;
  return std::string(reinterpret_cast<const char*>(&bits), 2);
}

TEST(GgufBlocks, Q8_0ByHand) {
  // d = 0.5, quants -128, -1, 0, 1, 127, then 2 for the rest.
  std::string block = half(0.5f);
  for (int8_t q : {-128, -1, 0, 1, 127}) block.push_back(static_cast<char>(q));
  block += std::string(27, '\2');
  float out[32];
  dequantize_q8_0(reinterpret_cast<const uint8_t*>(block.data()), 1, out);
  EXPECT_EQ(out[0], -64.0f);
  EXPECT_EQ(out[1], -0.5f);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(out[3], 0.5f);
  EXPECT_EQ(out[4], 63.5f);
  EXPECT_EQ(out[31], 1.0f);
}

TEST(GgufBlocks, Q4_0ByHand) {
  // d = 2; byte 0 = 0x1F: value 0 is (15 - 8) * 2 = 14, value 16 is (1 - 8) * 2 = -14;
  // byte 15 = 0x80: value 15 is (0 - 8) * 2 = -16, value 31 is (8 - 8) * 2 = 0.
  std::string block = half(2.0f) + std::string(16, '\x88');
  block[2] = '\x1F';
  block[17] = '\x80';
  float out[32];
  dequantize_q4_0(reinterpret_cast<const uint8_t*>(block.data()), 1, out);
  EXPECT_EQ(out[0], 14.0f);
  EXPECT_EQ(out[16], -14.0f);
  EXPECT_EQ(out[15], -16.0f);
  EXPECT_EQ(out[31], 0.0f);
  EXPECT_EQ(out[1], 0.0f);  // 0x88: both nibbles 8
}

TEST(GgufBlocks, Q4_KByHand) {
  // d = 1, dmin = 0.5. Sub-block scales/mins are 6-bit: sub-blocks 0..3 in the
  // low 6 bits of bytes 0..3 (scales) and 4..7 (mins); 4..7 in the nibbles of
  // bytes 8..11 with their top 2 bits in the top bits of bytes 0..7.
  std::string block = half(1.0f) + half(0.5f);
  std::string packed(12, '\0');
  packed[0] = 2;   // sub-block 0 scale 2
  packed[4] = 4;   // sub-block 0 min 4
  packed[1] = 3;   // sub-block 1 scale 3
  packed[5] = 1;   // sub-block 1 min 1
  packed[8] = 0x25;  // sub-block 4: scale 5 (low nibble), min 2 (high nibble)
  packed[3] = static_cast<char>(0x40 | 1);  // sub-block 3 scale 1; top bits 01 -> sub-block 7 scale += 16
  packed[11] = 0x03;  // sub-block 7: scale 3 + 16 = 19, min 0
  block += packed;
  std::string quants(128, '\0');
  quants[0] = 0x73;   // value 0: low nibble 3 (sub-block 0); value 32: high nibble 7 (sub-block 1)
  quants[64] = 0x0A;  // value 128: low nibble 10 (sub-block 4)
  quants[96] = 0x20;  // value 224: high nibble 2 (sub-block 7)
  block += quants;
  ASSERT_EQ(block.size(), 144u);
  float out[256];
  dequantize_q4_k(reinterpret_cast<const uint8_t*>(block.data()), 1, out);
  EXPECT_EQ(out[0], 1.0f * 2 * 3 - 0.5f * 4);   // 4
  EXPECT_EQ(out[1], -2.0f);                      // quant 0: -dmin * min
  EXPECT_EQ(out[32], 1.0f * 3 * 7 - 0.5f * 1);  // 20.5
  EXPECT_EQ(out[128], 1.0f * 5 * 10 - 0.5f * 2);  // 49
  EXPECT_EQ(out[224], 1.0f * 19 * 2 - 0.0f);      // 38
}

TEST(GgufFiles, TensorsLoadInPyTorchOrder) {
  const std::string dir = test::scratch_dir();
  std::string f32;
  for (float v : {1.f, 2.f, 3.f, 4.f, 5.f, 6.f}) put<float>(f32, v);
  std::string f16;
  for (float v : {0.5f, -1.5f}) f16 += half(v);
  std::string q8 = half(0.25f);
  for (int i = 0; i < 32; ++i) q8.push_back(static_cast<char>(i - 16));
  const std::string path = write(dir + "/model.gguf", gguf_bytes({{"model.diffusion_model.a.weight", {3, 2}, 0, f32},
                                                                   {"model.diffusion_model.b.bias", {2}, 1, f16},
                                                                   {"model.diffusion_model.c.weight", {32, 1}, 8, q8}}));
  const Weights weights = Weights::load(path);
  const at::Tensor a = weights.get("a.weight", {2, 3});
  EXPECT_EQ(a[1][0].item<float>(), 4.0f);
  EXPECT_EQ(weights.get("b.bias", {2})[1].item<float>(), -1.5f);
  const at::Tensor c = weights.get("c.weight", {1, 32});
  EXPECT_EQ(c[0][0].item<float>(), -4.0f);
  EXPECT_EQ(c[0][31].item<float>(), 3.75f);
  EXPECT_EQ(weights.metadata().at("general.architecture"), "flux");
}

// A whole tensor (rows of whole blocks) in ggml type 8 (Q8_0) or 2 (Q4_0).
std::string quantize(const at::Tensor& tensor, uint32_t type) {
  const StoredTensor stored = StoredTensor::encode(tensor, type == 8 ? Encoding::Q8_0 : Encoding::Q4_0);
  const at::Tensor bytes = stored.as_bytes();
  return std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), static_cast<size_t>(bytes.numel()));
}

// The golden tiny DiT as GGUF, matrices quantised with `type`, the rest F32.
std::string quantized_dit(const std::string& dir, uint32_t type) {
  const auto golden = SafetensorsFile::open(test::golden_dir() + "/flux_dev_tiny.safetensors");
  std::vector<GgufTensor> tensors;
  for (const auto& entry : golden->entries()) {
    if (entry.name.rfind("model.", 0) != 0) continue;
    const at::Tensor tensor = golden->tensor(entry.name).contiguous();
    std::vector<uint64_t> dims(entry.shape.rbegin(), entry.shape.rend());
    if (tensor.dim() == 2 && tensor.size(1) % 32 == 0) {
      tensors.push_back({entry.name, dims, type, quantize(tensor, type)});
    } else {
      tensors.push_back({entry.name, dims, 0, std::string(static_cast<const char*>(tensor.data_ptr()),
                                                          static_cast<size_t>(tensor.numel()) * 4)});
    }
  }
  std::string metadata;
  put_string(metadata, "params");
  put<uint32_t>(metadata, 8);
  put_string(metadata, golden->metadata().at("params"));
  return write(dir + "/dit-" + std::to_string(type) + ".gguf", gguf_bytes(tensors, metadata, 1));
}

TEST(GgufFiles, QuantisedDitStaysCloseToTheFloatModel) {
  const std::string dir = test::scratch_dir();
  const std::string golden = test::golden_dir() + "/flux_dev_tiny.safetensors";
  const at::Tensor expected = SafetensorsFile::open(golden)->tensor("out.pred");
  for (const auto& [type, tolerance] : std::vector<std::pair<uint32_t, double>>{{8, 0.02}, {2, 0.3}}) {
    const std::string weights = quantized_dit(dir, type);
    const std::string output = dir + "/out.safetensors";
    const auto run =
        test::run_untwist({"dit", "--weights", weights, "--inputs", golden, "--output", output, "--dtype", "float32"});
    ASSERT_EQ(run.status, 0) << run.output;
    const double error = test::relative_error(SafetensorsFile::open(output)->tensor("out.pred"), expected);
    std::cout << "ggml type " << type << ": relative error of out.pred vs float32 " << error << "\n";
    EXPECT_LT(error, tolerance);
    EXPECT_GT(error, 0.0);  // it really was quantised
    fs::remove(output);
  }
}

TEST(GgufFiles, QuantisedMatricesStayEncodedAndDecodeLayerByLayer) {
  const std::string dir = test::scratch_dir();
  const std::string golden = test::golden_dir() + "/flux_dev_tiny.safetensors";
  const Weights weights = Weights::load(quantized_dit(dir, 8));
  const FluxConfig config = detect_flux_config(weights);
  const StoredTensor qkv = weights.stored("double_blocks.0.img_attn.qkv.weight",
                                          {3 * config.hidden_size, config.hidden_size});
  EXPECT_TRUE(qkv.encoded());
  EXPECT_EQ(qkv.type_name(), "Q8_0");
  EXPECT_EQ(qkv.stored_bytes(), 3 * config.hidden_size * config.hidden_size / 32 * 34);

  // The model decoding each matrix when it is used computes exactly what a
  // model built from the decoded float32 tensors computes.
  const auto inputs = SafetensorsFile::open(golden);
  const DitInputs in = test::golden_dit_inputs(*inputs);
  const FluxModel lazy(weights, config);
  const FluxModel eager(Weights::from_tensors(weights.tensors(), "decoded"), config);
  const at::Tensor pe = lazy.position_table(in);
  EXPECT_TRUE(at::equal(lazy.forward(in, pe), eager.forward(in, pe)));
}

TEST(QuantisedBlocks, EncodingRoundTripsWithinTheFormatsStep) {
  at::manual_seed(3);
  // Rows of 512 values whose sub-blocks of 32 differ in range by up to 40x,
  // so Q4_K's 6-bit scale and min codes use their high bits.
  const at::Tensor amplitude = at::linspace(0.05, 2.0, 16).repeat_interleave(32).repeat({8, 1});
  const at::Tensor values = at::randn({8, 512}) * amplitude + 0.3 * amplitude;
  for (const Encoding encoding : {Encoding::Q8_0, Encoding::Q4_0, Encoding::Q4_K, Encoding::F8_E4M3}) {
    const StoredTensor stored = StoredTensor::encode(values, encoding);
    const at::Tensor decoded = stored.as(at::kFloat);
    ASSERT_EQ(decoded.sizes(), values.sizes());
    const int64_t block = encoding == Encoding::F8_E4M3 ? 32 : encoding_block_values(encoding);
    const at::Tensor error = (decoded - values).abs().view({-1, block});
    const at::Tensor block_max = values.abs().view({-1, block}).amax(1, true);
    // Worst error per block as a fraction of the block's largest magnitude.
    const double worst = (error / block_max).max().item<double>();
    const double bound = encoding == Encoding::Q8_0 ? 0.5 / 127 + 1e-3    // half a step of amax/127
                         : encoding == Encoding::Q4_0 ? 1.0 / 8 + 1e-3    // codes -8..7 of amax/8: the
                                                                          // other sign clamps at 7 steps
                         : encoding == Encoding::Q4_K ? 0.15               // 4-bit steps, 6-bit scales of sub-blocks
                                                      : 1.0 / 16;          // 3 mantissa bits
    EXPECT_LT(worst, bound) << encoding_name(encoding);
    EXPECT_GT(worst, 0.0) << encoding_name(encoding);
  }
  EXPECT_THROW(StoredTensor::encode(at::ones({4, 48}), Encoding::Q4_K), UsageError);
}

// Decoding straight into bfloat16 gives what decoding into float32 and
// rounding gives, bit for bit, for every format; float8's every code is
// exactly a bfloat16 value (its NaNs NaN).
TEST(QuantisedBlocks, DecodingIntoBFloat16IsFloat32Rounded) {
  at::manual_seed(4);
  const at::Tensor values = at::randn({16, 1024}) * at::linspace(0.01, 30.0, 16).unsqueeze(1);
  const auto bits = [](const at::Tensor& bf16) { return bf16.view(at::kShort); };
  for (const Encoding encoding : {Encoding::Q8_0, Encoding::Q4_0, Encoding::Q4_K, Encoding::F8_E4M3}) {
    const StoredTensor stored = StoredTensor::encode(values, encoding);
    const at::Tensor direct = stored.as(at::kBFloat16);
    ASSERT_EQ(direct.scalar_type(), at::kBFloat16) << encoding_name(encoding);
    EXPECT_TRUE(at::equal(bits(direct), bits(stored.as(at::kFloat).to(at::kBFloat16)))) << encoding_name(encoding);
    EXPECT_EQ(stored.as(at::kHalf).scalar_type(), at::kHalf) << "other dtypes go through float32";
  }
  const at::Tensor codes = at::arange(256, at::kInt).to(at::kByte);
  using Decode = at::Tensor (*)(const at::Tensor&, at::ScalarType);
  for (const Decode decode : {static_cast<Decode>(decode_f8_e4m3), static_cast<Decode>(decode_f8_e5m2)}) {
    const at::Tensor wide = decode(codes, at::kFloat), narrow = decode(codes, at::kBFloat16);
    const at::Tensor number = ~wide.isnan();  // NaNs: NaN either way, whatever their payload bits
    EXPECT_TRUE(at::equal(bits(narrow).masked_select(number), bits(wide.to(at::kBFloat16)).masked_select(number)));
    EXPECT_TRUE(at::equal(narrow.to(at::kFloat).isnan(), wide.isnan()));
    const at::Tensor finite = wide.isfinite();
    EXPECT_TRUE(at::equal(narrow.to(at::kFloat).masked_select(finite), wide.masked_select(finite))) << "exact";
  }
}

TEST(GgufFiles, MalformedFilesFailCleanly) {
  const std::string dir = test::scratch_dir();
  const std::string q8 = half(1.0f) + std::string(32, '\1');
  const std::string good = gguf_bytes({{"w", {32, 2}, 8, q8 + q8}});
  std::string deep_array;
  put_string(deep_array, "nested");
  put<uint32_t>(deep_array, 9);
  for (int i = 0; i < 6; ++i) {
    put<uint32_t>(deep_array, 9);
    put<uint64_t>(deep_array, 1);
  }
  std::string huge_string;
  put_string(huge_string, "big");
  put<uint32_t>(huge_string, 8);
  put<uint64_t>(huge_string, ~0ull);
  std::string bad_alignment;
  put_string(bad_alignment, "general.alignment");
  put<uint32_t>(bad_alignment, 4);
  put<uint32_t>(bad_alignment, 24);
  std::string huge_counts = good;
  std::memset(&huge_counts[8], 0xFF, 8);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "truncated GGUF file"},
      {good.substr(0, 30), "truncated GGUF file"},
      {good.substr(0, good.size() - 10), "ends past the end of the file"},
      {"GGUF" + std::string("\1\0\0\0", 4) + good.substr(8), "GGUF version 1"},
      {"GGML" + good.substr(4), "not a GGUF file"},
      {huge_counts, "claims"},
      {gguf_bytes({{"w", {32, 2}, 3, q8 + q8}}), "ggml type 3"},
      {gguf_bytes({{"w", {30, 2}, 8, q8 + q8}}), "not whole blocks of 32"},
      {gguf_bytes({{"w", {32, 0}, 8, ""}}), "empty or impossibly large dimension"},
      {gguf_bytes({{"w", {32, 1, 1, 1, 1}, 8, q8}}), "5 dimensions"},
      {gguf_bytes({{"w", {32}, 8, q8}, {"w", {32}, 8, q8}}), "appears twice"},
      {gguf_bytes({{"w", {32}, 8, q8}}, deep_array, 1), "nests arrays too deeply"},
      {gguf_bytes({{"w", {32}, 8, q8}}, huge_string, 1), "truncated GGUF file"},
      {gguf_bytes({{"w", {32}, 8, q8}}, bad_alignment, 1), "power of two"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string path = write(dir + "/bad" + std::to_string(i) + ".gguf", cases[i].first);
    try {
      GgufFile::open(path);
      ADD_FAILURE() << "case " << i << " loaded";
    } catch (const DataError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find(path), std::string::npos) << message;
      EXPECT_NE(message.find(cases[i].second), std::string::npos) << "case " << i << ": " << message;
    }
  }
}

}  // namespace
}  // namespace untwist
