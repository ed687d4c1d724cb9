// Hostile input: images, tokenizer files, prompts and JSON configs that a
// stranger may hand untwist, each made here by code. Every one either loads
// correctly or fails with a DataError naming the file; nothing crashes,
// hangs or allocates without bound.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "io/image_file.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "model/clip_tokenizer.h"
#include "model/flux1/flux_config.h"
#include "model/t5_tokenizer.h"
#include "pipeline/components.h"
#include "test_support.h"
#include "util/errors.h"

namespace untwist {
namespace {

namespace fs = std::filesystem;

std::string write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string u32(uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16), static_cast<char>(value >> 8),
          static_cast<char>(value)};
}

std::string zlib_compress(const std::string& raw) {
  uLongf size = compressBound(raw.size());
  std::string packed(size, '\0');
  compress(reinterpret_cast<Bytef*>(packed.data()), &size, reinterpret_cast<const Bytef*>(raw.data()), raw.size());
  packed.resize(size);
  return packed;
}

// A PNG from its IHDR fields, optional palette and unfiltered scanlines.
std::string png_file(uint32_t width, uint32_t height, int bit_depth, int colour_type, const std::string& palette,
                     const std::string& scanlines) {
  const std::string header = u32(width) + u32(height) + static_cast<char>(bit_depth) +
                             static_cast<char>(colour_type) + std::string(3, '\0');
  std::string png = "\x89PNG\r\n\x1a\n" + png_chunk("IHDR", header);
  if (!palette.empty()) png += png_chunk("PLTE", palette);
  return png + png_chunk("IDAT", zlib_compress(scanlines)) + png_chunk("IEND", "");
}

// A baseline JPEG of 8x8 pixels with `components` (1, 3 or 4: CMYK, Adobe
// transform 0) where every block has only a zero DC coefficient: every
// component decodes to 128.
std::string flat_jpeg(int components) {
  const auto segment = [](uint8_t marker, const std::string& body) {
    const size_t length = body.size() + 2;
    return std::string{'\xFF', static_cast<char>(marker), static_cast<char>(length >> 8),
                       static_cast<char>(length & 0xFF)} + body;
  };
  std::string jpeg = "\xFF\xD8";
  if (components == 4) jpeg += segment(0xEE, std::string("Adobe") + std::string{0, 100, 0, 0, 0, 0, 0});
  jpeg += segment(0xDB, std::string(1, '\0') + std::string(64, '\1'));
  std::string frame = {8, 0, 8, 0, 8, static_cast<char>(components)};
  for (int c = 1; c <= components; ++c) frame += std::string{static_cast<char>(c), 0x11, 0};
  jpeg += segment(0xC0, frame);
  // DC and AC tables with one code each ("0"): DC category 0, AC end-of-block.
  std::string one_code(16, '\0');
  one_code[0] = 1;
  jpeg += segment(0xC4, std::string(1, '\x00') + one_code + std::string(1, '\0') + std::string(1, '\x10') + one_code +
                            std::string(1, '\0'));
  std::string scan = {static_cast<char>(components)};
  for (int c = 1; c <= components; ++c) scan += std::string{static_cast<char>(c), 0};
  jpeg += segment(0xDA, scan + std::string{0, 63, 0});
  jpeg += std::string(1, '\0');  // "0" + "0" per block: at most 4 blocks fit in this byte
  return jpeg + "\xFF\xD9";
}

void expect_data_error(const std::function<void()>& action, const std::string& path, const std::string& words) {
  try {
    action();
    ADD_FAILURE() << path << ": expected a DataError containing '" << words << "'";
  } catch (const DataError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(words), std::string::npos) << message;
  }
}

TEST(MalformedImages, CleanErrors) {
  const std::string dir = test::scratch_dir();
  const std::string empty = write_bytes(dir + "/empty.png", "");
  expect_data_error([&] { read_image(empty); }, empty, "empty file");

  const std::string text = write_bytes(dir + "/text.png", "this is not an image at all");
  expect_data_error([&] { read_image(text); }, text, "not a readable image");

  const std::string rgb_rows = std::string(1, '\0') + std::string(3 * 64, '\x40');
  std::string rows;
  for (int y = 0; y < 64; ++y) rows += rgb_rows;
  const std::string whole = png_file(64, 64, 8, 2, "", rows);
  const std::string cut_png = write_bytes(dir + "/cut.png", whole.substr(0, whole.size() / 2));
  expect_data_error([&] { read_image(cut_png); }, cut_png, "cannot decode");

  const std::string zero = write_bytes(dir + "/zero.png", png_file(0, 0, 8, 2, "", ""));
  expect_data_error([&] { read_image(zero); }, zero, "image");

  const std::string jpeg = flat_jpeg(3);
  const std::string cut_jpeg = write_bytes(dir + "/cut.jpg", jpeg.substr(0, jpeg.size() - 3));
  expect_data_error([&] { read_image(cut_jpeg); }, cut_jpeg, "truncated JPEG");
  const std::string good_jpeg = write_bytes(dir + "/good.jpg", jpeg);
  EXPECT_NEAR(read_image(good_jpeg).mean().item<double>(), 128.0 / 255, 1e-6);
}

TEST(MalformedImages, UnusualButValidImagesLoad) {
  const std::string dir = test::scratch_dir();
  // 16-bit RGB: white-ish, black, mid grey in the blue channel.
  const std::string wide_row = std::string(1, '\0') + std::string("\xFF\xFF\x00\x00\x80\x00", 6) +
                               std::string("\x00\x00\xFF\xFF\x00\x00", 6);
  const at::Tensor wide = read_image(write_bytes(dir + "/wide.png", png_file(2, 1, 16, 2, "", wide_row)));
  ASSERT_EQ(wide.sizes(), (std::vector<int64_t>{3, 1, 2}));
  EXPECT_NEAR(wide[0][0][0].item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(wide[2][0][0].item<double>(), 32768.0 / 65535, 1e-6);
  EXPECT_NEAR(wide[1][0][1].item<double>(), 1.0, 1e-6);

  // Palette: index 1 (blue), index 0 (red).
  const std::string palette = std::string("\xFF\x00\x00\x00\x00\xFF", 6);
  const at::Tensor indexed =
      read_image(write_bytes(dir + "/palette.png", png_file(2, 1, 8, 3, palette, std::string("\0\1\0", 3))));
  EXPECT_NEAR(indexed[2][0][0].item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(indexed[0][0][1].item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(indexed[0][0][0].item<double>(), 0.0, 1e-6);

  // CMYK JPEG (Adobe, 4 components): loads as uniform grey.
  const at::Tensor cmyk = read_image(write_bytes(dir + "/cmyk.jpg", flat_jpeg(4)));
  ASSERT_EQ(cmyk.sizes(), (std::vector<int64_t>{3, 8, 8}));
  EXPECT_TRUE(at::isfinite(cmyk).all().item<bool>());
  EXPECT_LT((cmyk - cmyk[0][0][0]).abs().max().item<double>(), 1e-6);
  const at::Tensor grey = read_image(write_bytes(dir + "/grey.jpg", flat_jpeg(1)));
  EXPECT_NEAR(grey.mean().item<double>(), 128.0 / 255, 1e-6);

  // 1 x 100000: loads, and fitting it to 64x64 crops first (no 6-billion-pixel intermediate).
  const std::string tall_path = dir + "/tall.png";
  write_png(tall_path, at::rand({3, 100000, 1}));
  const at::Tensor tall = read_image(tall_path);
  ASSERT_EQ(tall.sizes(), (std::vector<int64_t>{3, 100000, 1}));
  const at::Tensor fitted = resize_and_crop(tall, 64, 64);
  ASSERT_EQ(fitted.sizes(), (std::vector<int64_t>{3, 64, 64}));
  // The centred 1x1 crop is the middle pixel, spread over the whole target.
  EXPECT_LT((fitted - tall.narrow(1, 49999, 1)).abs().max().item<double>(), 1e-5);
}

TEST(MalformedImages, StyleRejectsABadReferenceImageBeforeLoadingModels) {
  const std::string dir = test::scratch_dir();
  const std::string cut = write_bytes(dir + "/cut.png", "\x89PNG\r\n\x1a\n");
  const std::string out = dir + "/out";
  const auto run = test::run_untwist({"style", "--ref-image", cut, "-p", "a cat", "--model", cut, "--t5", cut,
                                      "--clip", cut, "--ae", cut, "--t5-tokenizer", cut, "--clip-tokenizer", cut,
                                      "-o", out});
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find(cut + ": not a readable image"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(out));
}

std::string tokenizers() { return test::golden_dir() + "/../tokenizers"; }

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(MalformedTokenizers, ClipFilesFailCleanly) {
  const std::string dir = test::scratch_dir();
  const std::string real = bytes_of(tokenizers() + "/clip/bpe_simple_vocab_16e6.txt.gz");
  const std::string cut = write_bytes(dir + "/cut.txt.gz", real.substr(0, real.size() / 2));
  expect_data_error([&] { ClipTokenizer::load(cut); }, cut, "truncated or corrupt");
  const std::string empty = write_bytes(dir + "/empty.txt.gz", "");
  expect_data_error([&] { ClipTokenizer::load(empty); }, empty, "holds 0 lines");
  const std::string wrong = write_bytes(dir + "/wrong.txt.gz", "#version\nnot a merges file\n");
  expect_data_error([&] { ClipTokenizer::load(wrong); }, wrong, "lines");
  // A zip bomb: 80 MiB of zeros in a few kilobytes.
  const std::string bomb_path = dir + "/bomb.txt.gz";
  gzFile bomb = gzopen(bomb_path.c_str(), "wb9");
  const std::string zeros(1 << 20, '0');
  for (int i = 0; i < 80; ++i) gzwrite(bomb, zeros.data(), static_cast<unsigned>(zeros.size()));
  gzclose(bomb);
  expect_data_error([&] { ClipTokenizer::load(bomb_path); }, bomb_path, "more than 64 MiB");

  fs::create_directories(dir + "/hf");
  const std::string vocab = write_bytes(dir + "/hf/vocab.json", R"({"a</w>": 0, "<|startoftext|>": 1, "<|endof)");
  expect_data_error([&] { ClipTokenizer::load(vocab); }, vocab, "is not a JSON object");
  write_bytes(vocab, R"({"a</w>": "zero"})");
  expect_data_error([&] { ClipTokenizer::load(vocab); }, vocab, "has no integer id");
  write_bytes(vocab, R"({"a</w>": 0, "<|startoftext|>": 1, "<|endoftext|>": 2})");
  expect_data_error([&] { ClipTokenizer::load(vocab); }, dir + "/hf/merges.txt", "not a regular file");
  write_bytes(dir + "/hf/merges.txt", "#version: 0.2\na b c\n");
  expect_data_error([&] { ClipTokenizer::load(vocab); }, dir + "/hf/merges.txt", "line 2");
}

TEST(MalformedTokenizers, SentencepieceFilesFailCleanly) {
  const std::string dir = test::scratch_dir();
  const std::string real = bytes_of(tokenizers() + "/t5_tiny/spiece.model");
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"cut.model", real.substr(0, real.size() / 2)},
           {"empty.model", ""},
           {"text.model", "this is not a protobuf"},
           {"garbage.model", std::string(4096, '\xFF')}}) {
    const std::string path = write_bytes(dir + "/" + name, bytes);
    expect_data_error([&] { T5Tokenizer::load(path); }, path, "not a sentencepiece model");
  }
}

TEST(MalformedTokenizers, HostilePromptsAreHandled) {
  const ClipTokenizer clip = ClipTokenizer::load(tokenizers() + "/clip/bpe_simple_vocab_16e6.txt.gz");
  const T5Tokenizer t5 = T5Tokenizer::load(tokenizers() + "/t5_tiny/spiece.model");
  const std::string one_word(100000, 'a');
  std::string many_words;
  for (int i = 0; i < 25000; ++i) many_words += "cat ";
  const char control_text[] = "a\x01\x02\x1b[31mred\x7f\tcat\0dog";
  const std::string controls(control_text, sizeof(control_text) - 1);
  for (const std::string& prompt : {one_word, many_words, controls}) {
    EXPECT_EQ(clip.input_ids(prompt, 77).size(), 77u);
    EXPECT_EQ(t5.input_ids(prompt, 512).size(), 512u);
  }
  // A long word is merged in pieces: its ids still come from the vocabulary.
  const auto ids = clip.input_ids(one_word, 77);
  EXPECT_EQ(ids.front(), clip.bos());
  EXPECT_NE(ids[1], clip.eos());
  const std::string invalid = "a \xFF\xFE cat";
  EXPECT_THROW(clip.input_ids(invalid, 77), DataError);
}

// A diffusers-style transformer folder holding the golden tiny DiT and `files`.
std::string transformer_folder(const std::string& dir, const std::map<std::string, std::string>& files) {
  const std::string folder = dir + "/transformer";
  fs::remove_all(folder);
  fs::create_directories(folder);
  fs::copy_file(test::golden_dir() + "/flux_dev_tiny.safetensors", folder + "/model.safetensors");
  for (const auto& [name, text] : files) write_bytes(folder + "/" + name, text);
  return folder;
}

TEST(MalformedConfigs, JsonFilesFailWithTheFileAndField) {
  const std::string dir = test::scratch_dir();
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"config.json", R"({"axes_dims_rope": "16,56,56"})", "axes_dims_rope is not an array"},
      {"config.json", R"({"axes_dims_rope": [8, 12.5, 12]})", "axes_dims_rope holds a non-integer"},
      {"config.json", R"({"axes_dims_rope": [8, 12)", "is not a JSON object"},
      {"config.json", deep, "is not a JSON object"},
      {"config.json", R"({"axes_dims_rope": [8, 8, 8]})", "sum to 24"},
      {"model.safetensors.index.json", R"({"metadata": {}})", "no 'weight_map' object"},
      {"model.safetensors.index.json", R"({"weight_map": ["model.safetensors"]})", "no 'weight_map' object"},
      {"model.safetensors.index.json", R"({"weight_map": {"a": 7}})", "non-string file name"},
      {"model.safetensors.index.json", R"({"weight_map": {"a": "../../model.safetensors"}})", "not a file in"},
      {"model.safetensors.index.json", deep, "no 'weight_map' object"},
  };
  for (const auto& [name, text, words] : cases) {
    const std::string folder = transformer_folder(dir, {{name, text}});
    const std::string file = folder + "/" + name;
    const std::string other = test::golden_dir() + "/ae_tiny.safetensors";
    ComponentPaths paths;
    paths.model = folder;
    paths.ae = other;
    paths.text = {other, other, other, other, "", ""};
    expect_data_error([&] { load_pipeline(paths, LoadSettings{}); }, name == "config.json" && words == "sum to 24"
                                                                      ? folder : file, words);
  }
}

TEST(MalformedConfigs, CheckpointParamsWithWrongTypes) {
  const std::string dir = test::scratch_dir();
  const auto golden = SafetensorsFile::open(test::golden_dir() + "/flux_dev_tiny.safetensors");
  NamedTensors tensors;
  for (const auto& entry : golden->entries()) tensors.emplace_back(entry.name, golden->tensor(entry.name));
  for (const auto& [params, words] : std::vector<std::pair<std::string, std::string>>{
           {R"({"axes_dim": "8,12,12"})", "params.axes_dim is not an array"},
           {R"({"axes_dim": [8, -12, 12]})", "params.axes_dim holds a non-integer"},
           {R"({"axes_dim": [8, 12, 12], "theta": "big"})", "params.theta is not a number"},
           {R"(["not", "an", "object"])", "'params' is not a JSON object"},
           {"{", "'params' is not a JSON object"}}) {
    const std::string path = dir + "/params.safetensors";
    write_safetensors(path, tensors, {{"params", params}});
    expect_data_error([&] { detect_flux_config(Weights::load(path)); }, path, words);
  }
}

std::string from_hex(const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

// Inputs the fuzzers (bench/fuzz.sh) found crashing, kept as regressions.
TEST(FuzzRegressions, JpegHuffmanTableWithTooManyCodes) {
  // A DHT segment whose second table runs past the segment's end, into bytes
  // that declare more than 256 codes: stb_image 2.27 wrote past its tables.
  const std::string path = write_bytes(test::scratch_dir() + "/dht.jpg", from_hex(
      "ffd8ffdb0043000141010090010101010101010101010101010101010101010101010101010101010101010101010141"
      "010101010101010101010101010101010101010101ffc0000101010111080008000803011100021100031100ffc40026"
      "0001000000000000000000000001010101010101010103010101010101010101010101f8fefeff02000300003f0000ff"
      "d9"));
  expect_data_error([&] { read_image(path); }, path, "corrupt JPEG: a Huffman table");
}

TEST(FuzzRegressions, JpegStartingWithFillBytes) {
  // "FF FF D8": decoders skip the fill byte and read a JPEG whose Huffman
  // table overflows, so the check must find the start the same way.
  const std::string path = write_bytes(test::scratch_dir() + "/fill.jpg", from_hex(
      "ffffd8ffdb00430001010101010101010101010100000000000000930001010101010101010101010101010101010101"
      "ffc00011000800000000100100000008030100110089ef010011030211ffc40026000100000000000000000000000000"
      "ffff7efc9407fa5f000000180000000000000003"));
  expect_data_error([&] { read_image(path); }, path, "corrupt JPEG: a Huffman table");
}

}  // namespace
}  // namespace untwist
