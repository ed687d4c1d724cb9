// Z-Image from prompt to PNG as a user runs it, with tiny components: the
// golden Z-Image DiT (random weights, caption width 24) and FLUX.1
// autoencoder (4 latent channels), a random 3-layer Qwen3 of width 24 and
// Qwen3's real tokenizer; a diffusers folder (transformer/ and text_encoder/
// sharded, tokenizer/, vae/ in diffusers names) and ComfyUI's split files.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "io/image_file.h"
#include "io/safetensors.h"
#include "model/qwen3_tokenizer.h"
#include "model/text_encoders_random.h"
#include "model/zimage/zimage_conditioner.h"
#include "test_support.h"

namespace untwist {
namespace {

namespace fs = std::filesystem;

std::string golden(const std::string& name) { return test::golden_dir() + "/" + name + ".safetensors"; }
std::string tokenizer_json() { return test::golden_dir() + "/../tokenizers/qwen3/tokenizer.json"; }

// The tensors of a file whose names start with `from`, renamed by `rename`.
NamedTensors renamed(const std::string& path, const std::string& from,
                     const std::function<std::string(const std::string&)>& rename) {
  const auto file = SafetensorsFile::open(path);
  NamedTensors tensors;
  for (const auto& entry : file->entries()) {
    if (entry.name.rfind(from, 0) == 0) tensors.emplace_back(rename(entry.name.substr(from.size())), file->tensor(entry.name));
  }
  return tensors;
}

// `tensors` as two shards and their index, diffusers' way.
void write_sharded(const NamedTensors& tensors, const std::string& folder, const std::string& stem) {
  NamedTensors first, second;
  nlohmann::json index = {{"weight_map", nlohmann::json::object()}};
  const std::string names[2] = {stem + "-00001-of-00002.safetensors", stem + "-00002-of-00002.safetensors"};
  for (const auto& [name, tensor] : tensors) {
    const bool early = first.size() <= second.size();
    (early ? first : second).emplace_back(name, tensor);
    index["weight_map"][name] = names[early ? 0 : 1];
  }
  write_safetensors(folder + "/" + names[0], first);
  write_safetensors(folder + "/" + names[1], second);
  std::ofstream(folder + "/" + stem + ".safetensors.index.json") << index.dump();
}

class ZImagePipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::scratch_dir());
    Qwen3Config qwen;
    qwen.hidden_size = 24;
    qwen.num_layers = 3;
    qwen.num_heads = 2;
    qwen.num_kv_heads = 1;
    qwen.head_dim = 12;
    qwen.intermediate_size = 48;
    const NamedTensors encoder = random_qwen3_weights(qwen, 7);
    write_safetensors(qwen3(), encoder);

    const std::string folder = model_dir();
    for (const char* sub : {"transformer", "text_encoder", "tokenizer", "vae"}) fs::create_directories(folder + "/" + sub);
    write_sharded(renamed(golden("zimage_turbo_tiny"), "model.", [](const std::string& n) { return n; }),
                  folder + "/transformer", "diffusion_pytorch_model");
    std::ofstream(folder + "/transformer/config.json") << R"({"axes_dims": [4, 6, 6], "rope_theta": 256.0})";
    write_sharded(encoder, folder + "/text_encoder", "model");
    fs::copy_file(tokenizer_json(), folder + "/tokenizer/tokenizer.json");
    write_safetensors(folder + "/vae/diffusion_pytorch_model.safetensors",
                      renamed(golden("ae_tiny_diffusers"), "model.", [](const std::string& n) { return n; }));
  }

  static std::string qwen3() { return *dir_ + "/qwen3.safetensors"; }
  static std::string model_dir() { return *dir_ + "/Z-Image-tiny"; }

  static std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  static std::string* dir_;
};

std::string* ZImagePipeline::dir_ = nullptr;

const std::vector<std::string> kSize = {"-W", "16", "-H", "16", "--steps", "2", "--dtype", "float32"};
// The second target's caption is longer than 32 tokens: rows of different padded lengths.
const std::vector<std::string> kStyle = {
    "--ref-prompt", "a watercolour fox", "-p", "a house", "-p",
    "a small wooden boat drifting on a long and winding river at dusk, painted with soft brushstrokes and warm golden "
    "light",
    "-s", "5", "--compare"};

// Two reference images of other sizes than the 16x16 targets (4x4 tokens),
// each on a token grid of its own (6x11 and 8x8), following its inversion,
// sampled apart from them.
TEST_F(ZImagePipeline, StyleTakesReferenceImagesOfTheirOwnSizes) {
  const std::string out = test::scratch_dir();
  write_png(out + "/wide.png", at::rand({3, 16, 32}));
  write_png(out + "/square.png", at::rand({3, 40, 40}));
  const auto run = test::run_untwist(
      with(with({"style", "--model-dir", model_dir()}, kSize), {"--ref-image", out + "/wide.png", "--ref-image", out + "/square.png", "--ref-scale", "2", "--ref-mode",
                "invert", "-p", "a house", "--mode", "full", "--blocks", "all", "-o", out + "/set"}));
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(read_image(out + "/set/reference-1.png").sizes().vec(), (std::vector<int64_t>{3, 24, 44}));
  EXPECT_EQ(read_image(out + "/set/reference-2.png").sizes().vec(), (std::vector<int64_t>{3, 32, 32}));
  EXPECT_EQ(read_image(out + "/set/1-a-house.png").sizes().vec(), (std::vector<int64_t>{3, 16, 16}));
}

TEST_F(ZImagePipeline, StyleMakesASetFromADiffusersFolder) {
  const std::string out = test::scratch_dir();
  const auto run = test::run_untwist(with(with({"style", "--model-dir", model_dir()}, kSize), with(kStyle, {"-o", out})));
  ASSERT_EQ(run.status, 0) << run.output;
  for (const char* mode : {"none", "full", "untwisted"}) {
    SCOPED_TRACE(mode);
    EXPECT_TRUE(at::equal(read_image(out + "/" + mode + "/reference.png"), read_image(out + "/none/reference.png")));
  }
  EXPECT_FALSE(at::equal(read_image(out + "/full/1-a-house.png"), read_image(out + "/none/1-a-house.png")))
      << "full sharing must change the targets";
  const auto manifest = nlohmann::json::parse(std::ifstream(out + "/manifest.json"));
  EXPECT_EQ(manifest["family"], "zimage");
  EXPECT_EQ(manifest["steps"], 2);
}

TEST_F(ZImagePipeline, ComfyFilesGiveTheDiffusersFoldersPixels) {
  const std::string out = test::scratch_dir();
  auto run = test::run_untwist(with(with({"style", "--model-dir", model_dir()}, kSize), with(kStyle, {"-o", out + "/diffusers"})));
  ASSERT_EQ(run.status, 0) << run.output;

  // ComfyUI's transformer: fused qkv, x_embedder / final_layer, attention.out and q_norm / k_norm.
  const auto dit = SafetensorsFile::open(golden("zimage_turbo_tiny"));
  NamedTensors comfy;
  for (const auto& entry : dit->entries()) {
    std::string name = entry.name;
    if (name.rfind("model.", 0) != 0 || name.find(".attention.to_k.") != std::string::npos ||
        name.find(".attention.to_v.") != std::string::npos) {
      continue;
    }
    name = name.substr(6);
    const auto replace = [&](const std::string& from, const std::string& to) {
      const size_t at = name.find(from);
      if (at != std::string::npos) name.replace(at, from.size(), to);
    };
    at::Tensor tensor = dit->tensor(entry.name);
    const size_t q = entry.name.find(".attention.to_q.");
    if (q != std::string::npos) {
      const std::string block = entry.name.substr(0, q) + ".attention.";
      tensor = at::cat({tensor, dit->tensor(block + "to_k.weight"), dit->tensor(block + "to_v.weight")}, 0);
      replace("attention.to_q.", "attention.qkv.");
    }
    replace("all_x_embedder.2-1.", "x_embedder.");
    replace("all_final_layer.2-1.", "final_layer.");
    replace("attention.to_out.0.", "attention.out.");
    replace("attention.norm_q.", "attention.q_norm.");
    replace("attention.norm_k.", "attention.k_norm.");
    comfy.emplace_back("model.diffusion_model." + name, tensor);
  }
  write_safetensors(out + "/z_image_turbo_bf16.safetensors", comfy, dit->metadata());
  write_safetensors(out + "/qwen_3_4b.safetensors",
                    renamed(qwen3(), "", [](const std::string& n) { return "text_encoders.qwen3_4b.transformer." + n; }));
  run = test::run_untwist(with(with({"style", "--model", out + "/z_image_turbo_bf16.safetensors", "--text-encoder",
                                     out + "/qwen_3_4b.safetensors", "--tokenizer", tokenizer_json(), "--ae",
                                     golden("ae_tiny")},
                                    kSize),
                               with(kStyle, {"-o", out + "/comfy"})));
  ASSERT_EQ(run.status, 0) << run.output;
  int compared = 0;
  for (const auto& entry : fs::recursive_directory_iterator(out + "/diffusers")) {
    if (entry.path().extension() != ".png" || entry.path().filename() == "grid.png") continue;
    const std::string image = fs::relative(entry.path(), out + "/diffusers").string();
    SCOPED_TRACE(image);
    ASSERT_TRUE(fs::exists(out + "/comfy/" + image));
    EXPECT_TRUE(at::equal(read_image(out + "/comfy/" + image), read_image(entry.path().string())));
    ++compared;
  }
  EXPECT_EQ(compared, 9) << "three images in each of three modes";
}

// generate == the Qwen3 runner on the Z-Image template (hidden_states[-2],
// real tokens only) -> dit on latents -> ae, each runner on its own; and the
// negative prompt matters once guidance is on.
TEST_F(ZImagePipeline, GenerateEqualsTheStepByStepRouteThroughTheRunners) {
  const std::string out = test::scratch_dir();
  const std::string prompt = "a red fox";
  auto run = test::run_untwist(with(with({"generate", "--model-dir", model_dir()}, kSize), {"-p", prompt, "-s", "11", "-o", out}));
  ASSERT_EQ(run.status, 0) << run.output;

  const Qwen3Tokenizer tokenizer = Qwen3Tokenizer::load(tokenizer_json());
  const std::vector<int64_t> ids = tokenizer.encode(ZImageConditioner::chat_text(prompt));
  const int64_t length = static_cast<int64_t>(ids.size());
  write_safetensors(out + "/te_in.safetensors", {{"in.input_ids", at::tensor(ids).reshape({1, length})}});
  run = test::run_untwist({"te", "--kind", "qwen3", "--weights", qwen3(), "--inputs", out + "/te_in.safetensors",
                           "--output", out + "/te_out.safetensors", "--layers", "2"});
  ASSERT_EQ(run.status, 0) << run.output;

  // 16x16 pixels, autoencoder factor 2, transformer patch 2: a latent of 4 x 8 x 8.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(11);
  write_safetensors(out + "/dit_in.safetensors",
                    {{"in.noise", at::randn({1, 4, 8, 8}, generator)},
                     {"in.cap_feats_0", SafetensorsFile::open(out + "/te_out.safetensors")->tensor("out.hidden_states_2")[0]}});
  run = test::run_untwist({"dit", "--weights", golden("zimage_turbo_tiny"), "--inputs", out + "/dit_in.safetensors",
                           "--output", out + "/dit_out.safetensors", "--steps", "2", "--guidance", "0",
                           "--dtype", "float32"});
  ASSERT_EQ(run.status, 0) << run.output;
  test::expect_runner_decode_matches_png(SafetensorsFile::open(out + "/dit_out.safetensors")->tensor("out.denoised"),
                                         golden("ae_tiny"), out, out + "/0-a-red-fox.png");

  for (const char* negative : {"", "blurry"}) {
    run = test::run_untwist(with(with({"generate", "--model-dir", model_dir()}, kSize),
                                 {"-p", prompt, "-s", "11", "--guidance", "4", "--negative-prompt", negative, "-o",
                                  out + "/guided-" + negative}));
    ASSERT_EQ(run.status, 0) << run.output;
  }
  EXPECT_FALSE(at::equal(read_image(out + "/guided-/0-a-red-fox.png"), read_image(out + "/0-a-red-fox.png")))
      << "guidance changes the image";
  EXPECT_FALSE(at::equal(read_image(out + "/guided-blurry/0-a-red-fox.png"), read_image(out + "/guided-/0-a-red-fox.png")))
      << "the negative prompt changes the image";
}

}  // namespace
}  // namespace untwist
