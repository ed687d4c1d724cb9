// The safetensors reader's validation, its zero-copy wrapping, the writer,
// float8 decoding and atomic output.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "io/atomic_file.h"
#include "io/float8.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "test_support.h"
#include "util/errors.h"

namespace untwist {
namespace {

namespace fs = std::filesystem;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string length_prefix(uint64_t length) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
  return bytes;
}

// A file with the given header text and `data_bytes` zero bytes of data.
std::string file_with_header(const std::string& header, size_t data_bytes = 0) {
  return length_prefix(header.size()) + header + std::string(data_bytes, '\0');
}

// Opens `bytes` as a safetensors file and returns the DataError message.
std::string open_error(const std::string& bytes) {
  const std::string path = test::scratch_dir() + "/bad.safetensors";
  write_bytes(path, bytes);
  try {
    SafetensorsFile::open(path);
  } catch (const DataError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind(path, 0), 0u) << "the message names the file: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
    return message;
  }
  ADD_FAILURE() << "no error for a bad file";
  return "";
}

struct BadFile {
  const char* what;
  std::string bytes;
  const char* expected_message;
};

TEST(SafetensorsValidation, RejectsEachCraftedBadFileWithTheRightMessage) {
  const std::string one_f32 = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  const std::vector<BadFile> cases = {
      {"empty file", "", "shorter than the 8-byte header length"},
      {"five bytes", "\x01\x02\x03\x04\x05", "shorter than the 8-byte header length"},
      {"header length past the end", length_prefix(1000) + "{}", "past the end of the file"},
      {"absurd header length", length_prefix(~0ull) + "{}", "past the end of the file"},
      {"header not JSON", file_with_header("{not json"), "not valid JSON"},
      {"JSON not an object", file_with_header("[1, 2, 3]"), "not an object"},
      {"invalid UTF-8", file_with_header("{\"w\xff\xfe\":{}}"), "not valid JSON"},
      {"unknown dtype", file_with_header(R"({"w":{"dtype":"F7","shape":[1],"data_offsets":[0,1]}})", 1),
       "tensor 'w': unknown dtype"},
      {"negative dim", file_with_header(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
       "not a non-negative integer"},
      {"fractional dim", file_with_header(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4),
       "not a non-negative integer"},
      {"shape product overflows",
       file_with_header(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})", 4),
       "more elements than 64 bits can count"},
      {"byte range does not match the shape",
       file_with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4), "needs 2 x 4 bytes"},
      {"range past the end", file_with_header(one_f32, 2), "reach past the data section"},
      {"overlapping ranges",
       file_with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
       "overlap"},
      {"reversed offsets", file_with_header(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4),
       "end before they begin"},
      {"duplicate keys",
       file_with_header(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                        R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", 2),
       "names tensor 'w' twice"},
      {"metadata with a number", file_with_header(R"({"__metadata__":{"steps":4}})"), "is not a string"},
      {"entry missing fields", file_with_header(R"({"w":{"dtype":"F32"}})"), "needs 'dtype', 'shape'"},
      {"deep nesting", file_with_header("{\"w\":" + std::string(64, '[') + std::string(64, ']') + "}"),
       "nested deeper"},
  };
  for (const auto& bad : cases) {
    SCOPED_TRACE(bad.what);
    EXPECT_NE(open_error(bad.bytes).find(bad.expected_message), std::string::npos) << open_error(bad.bytes);
  }
}

TEST(SafetensorsValidation, HeaderLengthOverTheFormatLimitIsNotAllocated) {
  // A sparse 200 MiB file claiming a 150 MiB header: refused before reading it.
  const std::string path = test::scratch_dir() + "/huge.safetensors";
  write_bytes(path, length_prefix(150ull << 20));
  fs::resize_file(path, 200ull << 20);
  try {
    SafetensorsFile::open(path);
    FAIL() << "no error";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("exceeds the format's limit"), std::string::npos) << error.what();
  }
}

TEST(Safetensors, RoundTripsEveryWritableDtypeWithMetadata) {
  const std::string path = test::scratch_dir() + "/all.safetensors";
  NamedTensors tensors;
  for (auto type : {at::kDouble, at::kFloat, at::kHalf, at::kBFloat16}) {
    tensors.emplace_back(std::string("float_") + c10::toString(type), at::randn({3, 5}).to(type));
  }
  for (auto type : {at::kLong, at::kInt, at::kShort, at::kChar, at::kByte}) {
    tensors.emplace_back(std::string("int_") + c10::toString(type), at::randint(0, 100, {7}).to(type));
  }
  tensors.emplace_back("bool", at::rand({4}) > 0.5);
  tensors.emplace_back("empty", at::zeros({0, 3}));
  write_safetensors(path, tensors, {{"kind", "test"}});

  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->metadata().at("kind"), "test");
  ASSERT_EQ(file->entries().size(), tensors.size());
  for (const auto& [name, expected] : tensors) {
    SCOPED_TRACE(name);
    const at::Tensor actual = file->tensor(name);
    EXPECT_EQ(actual.scalar_type(), expected.scalar_type());
    EXPECT_TRUE(at::equal(actual, expected));
  }
}

TEST(Safetensors, AlignedTensorsWrapTheMappingWithoutCopying) {
  const std::string path = test::scratch_dir() + "/w.safetensors";
  write_safetensors(path, {{"w", at::randn({64, 64})}});
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->tensor("w").data_ptr(), file->tensor("w").data_ptr());
}

TEST(Safetensors, MissingTensorNamesTheFileAndTheTensor) {
  const std::string path = test::scratch_dir() + "/w.safetensors";
  write_safetensors(path, {{"w", at::ones({2})}});
  try {
    SafetensorsFile::open(path)->tensor("v");
    FAIL() << "no error";
  } catch (const DataError& error) {
    EXPECT_EQ(std::string(error.what()), path + ": no tensor named 'v'");
  }
}

TEST(Float8, DecodesTheFormatsByTheirSpecification) {
  EXPECT_EQ(decode_f8_e4m3(0x38), 1.0f);           // exponent 7 - bias 7
  EXPECT_EQ(decode_f8_e4m3(0x7E), 448.0f);         // largest finite
  EXPECT_EQ(decode_f8_e4m3(0xC0), -2.0f);
  EXPECT_EQ(decode_f8_e4m3(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_TRUE(std::isnan(decode_f8_e4m3(0x7F)));
  EXPECT_EQ(decode_f8_e5m2(0x3C), 1.0f);
  EXPECT_EQ(decode_f8_e5m2(0x7B), 57344.0f);
  EXPECT_TRUE(std::isinf(decode_f8_e5m2(0x7C)));
  EXPECT_EQ(decode_f8_e5m2(0x01), std::ldexp(1.0f, -16));
}

TEST(Float8, StoredFloat8TensorsReadAsFloat32) {
  const std::string header = R"({"w":{"dtype":"F8_E4M3","shape":[3],"data_offsets":[0,3]}})";
  const std::string path = test::scratch_dir() + "/f8.safetensors";
  write_bytes(path, length_prefix(header.size()) + header + "\x38\xC0\x7E");
  const at::Tensor w = SafetensorsFile::open(path)->tensor("w");
  EXPECT_EQ(w.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(w, at::tensor({1.0f, -2.0f, 448.0f})));
}

TEST(Float8, EncodingE4M3RoundsToTheNearestCode) {
  for (int code = 0; code < 256; ++code) {  // every finite code comes back as itself
    if ((code & 0x7F) == 0x7F) continue;
    const uint8_t bits = static_cast<uint8_t>(code);
    EXPECT_EQ(encode_f8_e4m3(decode_f8_e4m3(bits)), bits) << code;
  }
  EXPECT_EQ(encode_f8_e4m3(1.0625f), 0x38);  // halfway between 1 (0x38) and 1.125 (0x39): even code
  EXPECT_EQ(encode_f8_e4m3(1.1875f), 0x3A);  // halfway between 1.125 (0x39) and 1.25 (0x3A): even code
  EXPECT_EQ(encode_f8_e4m3(1.07f), 0x39);
  EXPECT_EQ(encode_f8_e4m3(-3.1f), 0xC4);    // -3
  EXPECT_EQ(encode_f8_e4m3(1000.0f), 0x7E);  // saturates at 448
  EXPECT_EQ(encode_f8_e4m3(-1e30f), 0xFE);
  EXPECT_EQ(encode_f8_e4m3(std::nanf("")), 0x7F);
  EXPECT_EQ(encode_f8_e4m3(1e-4f), 0x00);    // below half the smallest subnormal (2^-9)
}

TEST(Float8, StoredFloat8TensorsStayEncodedUntilUsed) {
  const std::string header = R"({"w":{"dtype":"F8_E4M3","shape":[1,3],"data_offsets":[0,3]}})";
  const std::string path = test::scratch_dir() + "/f8.safetensors";
  write_bytes(path, length_prefix(header.size()) + header + "\x38\xC0\x7E");
  const Weights weights = Weights::load(path);
  const StoredTensor stored = weights.stored("w", {1, 3});
  EXPECT_TRUE(stored.encoded());
  EXPECT_EQ(stored.stored_bytes(), 3);
  EXPECT_TRUE(at::equal(stored.as(at::kFloat), at::tensor({1.0f, -2.0f, 448.0f}).view({1, 3})));
  EXPECT_EQ(stored.as(at::kBFloat16).scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(weights.get("w"), at::tensor({1.0f, -2.0f, 448.0f}).view({1, 3})));
}

TEST(AtomicFile, AnUncommittedWriteLeavesNothingBehind) {
  const std::string dir = test::scratch_dir();
  {
    AtomicFile file(dir + "/out.bin");
    file.write("partial", 7);
  }
  EXPECT_TRUE(fs::is_empty(dir));
  EXPECT_THROW(AtomicFile(dir + "/missing/out.bin"), DataError);
}

TEST(AtomicFile, RefusesToOverwriteAnInput) {
  const std::string path = test::scratch_dir() + "/in.safetensors";
  write_safetensors(path, {{"w", at::ones({1})}});
  EXPECT_THROW(refuse_overwriting_inputs(path, {path}), UsageError);
  EXPECT_NO_THROW(refuse_overwriting_inputs(path + ".new", {path}));
}

}  // namespace
}  // namespace untwist
