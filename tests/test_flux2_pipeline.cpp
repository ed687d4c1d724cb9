// FLUX.2 [klein] from prompt to PNG as a user runs it, with tiny components:
// the golden klein DiT and FLUX.2 autoencoder, a random 28-layer Qwen3 of
// width 8 (3 x 8 = the DiT's context width) and Qwen3's real tokenizer; the
// same set from single files, ComfyUI-prefixed files and a diffusers folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/image_file.h"
#include "io/safetensors.h"
#include "model/qwen3_tokenizer.h"
#include "model/seeded_noise.h"
#include "model/text_encoders_random.h"
#include "test_support.h"

namespace untwist {
namespace {

namespace fs = std::filesystem;

std::string golden(const std::string& name) { return test::golden_dir() + "/" + name + ".safetensors"; }
std::string tokenizer_json() { return test::golden_dir() + "/../tokenizers/qwen3/tokenizer.json"; }

// The model.* tensors of a golden file under `prefix`, with its metadata.
void write_renamed(const std::string& golden_path, const std::string& out, const std::string& prefix) {
  const auto file = SafetensorsFile::open(golden_path);
  NamedTensors tensors;
  for (const auto& entry : file->entries()) {
    if (entry.name.rfind("model.", 0) == 0) tensors.emplace_back(prefix + entry.name.substr(6), file->tensor(entry.name));
  }
  write_safetensors(out, tensors, file->metadata());
}

class Flux2Pipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::scratch_dir());
    Qwen3Config qwen;
    qwen.hidden_size = 8;
    qwen.num_layers = 28;
    qwen.num_heads = 2;
    qwen.num_kv_heads = 1;
    qwen.head_dim = 4;
    qwen.intermediate_size = 16;
    write_safetensors(*dir_ + "/qwen3.safetensors", random_qwen3_weights(qwen, 7));
  }

  static std::vector<std::string> components() {
    return {"--model", golden("flux2_klein_tiny"), "--text-encoder", *dir_ + "/qwen3.safetensors", "--tokenizer",
            tokenizer_json(), "--ae", golden("ae2_tiny"), "-W", "16", "-H", "16", "--steps", "2", "--dtype", "float32"};
  }

  static std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  static std::string* dir_;
};

std::string* Flux2Pipeline::dir_ = nullptr;

const std::vector<std::string> kStyle = {"--ref-prompt", "a watercolour fox", "-p", "a house", "-p", "a boat",
                                         "-s", "5", "--compare"};

// Two reference images of other sizes than the 16x16 targets (4x4 tokens),
// each on a token grid of its own (6x11 and 8x8), following its inversion,
// sampled apart from them.
TEST_F(Flux2Pipeline, StyleTakesReferenceImagesOfTheirOwnSizes) {
  const std::string out = test::scratch_dir();
  write_png(out + "/wide.png", at::rand({3, 16, 32}));
  write_png(out + "/square.png", at::rand({3, 40, 40}));
  const auto run = test::run_untwist(
      with(with({"style"}, components()), {"--ref-image", out + "/wide.png", "--ref-image", out + "/square.png", "--ref-scale", "2", "--ref-mode",
                "invert", "-p", "a house", "--mode", "full", "--blocks", "all", "-o", out + "/set"}));
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(read_image(out + "/set/reference-1.png").sizes().vec(), (std::vector<int64_t>{3, 24, 44}));
  EXPECT_EQ(read_image(out + "/set/reference-2.png").sizes().vec(), (std::vector<int64_t>{3, 32, 32}));
  EXPECT_EQ(read_image(out + "/set/1-a-house.png").sizes().vec(), (std::vector<int64_t>{3, 16, 16}));
}

TEST_F(Flux2Pipeline, StyleMakesAKleinSetWhoseReferenceIsTheSameInEveryMode) {
  const std::string out = test::scratch_dir();
  const auto run = test::run_untwist(with(with({"style"}, components()), with(kStyle, {"-o", out})));
  ASSERT_EQ(run.status, 0) << run.output;
  for (const char* mode : {"none", "full", "untwisted"}) {
    SCOPED_TRACE(mode);
    EXPECT_TRUE(fs::exists(out + "/" + mode + "/reference.png"));
    EXPECT_TRUE(at::equal(read_image(out + "/" + mode + "/reference.png"), read_image(out + "/none/reference.png")));
  }
  EXPECT_FALSE(at::equal(read_image(out + "/full/1-a-house.png"), read_image(out + "/none/1-a-house.png")))
      << "full sharing must change the targets";
  const auto manifest = nlohmann::json::parse(std::ifstream(out + "/manifest.json"));
  EXPECT_EQ(manifest["family"], "flux2");
  EXPECT_EQ(manifest["variant"], "klein");
  EXPECT_EQ(manifest["steps"], 2);
}

TEST_F(Flux2Pipeline, SingleFilesComfyFilesAndADiffusersFolderGiveIdenticalPixels) {
  const std::string out = test::scratch_dir();
  auto run = test::run_untwist(with(with({"style"}, components()), with(kStyle, {"-o", out + "/single"})));
  ASSERT_EQ(run.status, 0) << run.output;

  // ComfyUI: diffusion model, text encoder and VAE files, each under its own prefix.
  write_renamed(golden("flux2_klein_tiny"), out + "/flux-2-klein.safetensors", "model.diffusion_model.");
  write_renamed(golden("ae2_tiny"), out + "/flux2-vae.safetensors", "vae.");
  {
    const auto qwen = SafetensorsFile::open(*dir_ + "/qwen3.safetensors");
    NamedTensors tensors;
    for (const auto& entry : qwen->entries()) {
      tensors.emplace_back("text_encoders.qwen3_4b.transformer." + entry.name, qwen->tensor(entry.name));
    }
    write_safetensors(out + "/qwen_3_4b.safetensors", tensors);
  }
  run = test::run_untwist(with({"style", "--model", out + "/flux-2-klein.safetensors", "--text-encoder",
                                out + "/qwen_3_4b.safetensors", "--tokenizer", tokenizer_json(), "--ae",
                                out + "/flux2-vae.safetensors", "-W", "16", "-H", "16", "--steps", "2", "--dtype",
                                "float32"},
                               with(kStyle, {"-o", out + "/comfy"})));
  ASSERT_EQ(run.status, 0) << run.output;

  // diffusers: transformer/ in diffusers' names (its RoPE axes in config.json), text_encoder/ in two shards,
  // tokenizer/, vae/.
  const std::string folder = out + "/FLUX.2-klein-tiny";
  for (const char* sub : {"transformer", "vae", "text_encoder", "tokenizer"}) fs::create_directories(folder + "/" + sub);
  {  // the transformer in diffusers' names (Flux2Transformer2DModel)
    const auto klein = SafetensorsFile::open(golden("flux2_klein_tiny"));
    TensorMap reference;
    for (const auto& entry : klein->entries()) {
      if (entry.name.rfind("model.", 0) == 0) reference.emplace(entry.name.substr(6), klein->tensor(entry.name));
    }
    NamedTensors diffusers;
    for (const auto& [name, tensor] : test::flux2_to_diffusers(reference)) diffusers.emplace_back(name, tensor);
    write_safetensors(folder + "/transformer/diffusion_pytorch_model.safetensors", diffusers);
  }
  std::ofstream(folder + "/transformer/config.json") << R"({"axes_dims_rope": [6, 6, 6, 6]})";
  write_renamed(golden("ae2_tiny"), folder + "/vae/diffusion_pytorch_model.safetensors", "");
  {
    const auto qwen = SafetensorsFile::open(*dir_ + "/qwen3.safetensors");
    NamedTensors first, second;
    nlohmann::json index = {{"weight_map", nlohmann::json::object()}};
    for (const auto& entry : qwen->entries()) {
      const bool early = first.size() <= second.size();
      (early ? first : second).emplace_back(entry.name, qwen->tensor(entry.name));
      index["weight_map"][entry.name] = early ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    }
    write_safetensors(folder + "/text_encoder/model-00001-of-00002.safetensors", first);
    write_safetensors(folder + "/text_encoder/model-00002-of-00002.safetensors", second);
    std::ofstream(folder + "/text_encoder/model.safetensors.index.json") << index.dump();
  }
  fs::copy_file(tokenizer_json(), folder + "/tokenizer/tokenizer.json");
  run = test::run_untwist(
      with({"style", "--model-dir", folder, "-W", "16", "-H", "16", "--steps", "2", "--dtype", "float32"},
           with(kStyle, {"-o", out + "/diffusers"})));
  ASSERT_EQ(run.status, 0) << run.output;

  for (const char* layout : {"comfy", "diffusers"}) {
    for (const char* image : {"none/reference.png", "untwisted/1-a-house.png", "full/2-a-boat.png"}) {
      SCOPED_TRACE(std::string(layout) + "/" + image);
      EXPECT_TRUE(at::equal(read_image(out + "/" + layout + "/" + image), read_image(out + "/single/" + image)));
    }
  }
}

// generate == tokenize --chat -> te --kind qwen3 -> dit --steps -> ae, each runner on its own.
TEST_F(Flux2Pipeline, GenerateEqualsTheStepByStepRouteThroughTheRunners) {
  const std::string out = test::scratch_dir();
  const std::string prompt = "a red fox";
  auto run = test::run_untwist(with(with({"generate"}, components()), {"-p", prompt, "-s", "11", "-o", out}));
  ASSERT_EQ(run.status, 0) << run.output;

  const Qwen3Tokenizer tokenizer = Qwen3Tokenizer::load(tokenizer_json());
  const Qwen3InputIds ids = tokenizer.input_ids(Qwen3Tokenizer::chat_text(prompt), 512);
  write_safetensors(out + "/te_in.safetensors", {{"in.input_ids", at::tensor(ids.ids).reshape({1, 512})},
                                                 {"in.attention_mask", at::tensor(ids.attention_mask).reshape({1, 512})}});
  run = test::run_untwist({"te", "--kind", "qwen3", "--weights", *dir_ + "/qwen3.safetensors", "--inputs",
                           out + "/te_in.safetensors", "--output", out + "/te_out.safetensors", "--layers", "9,18,27"});
  ASSERT_EQ(run.status, 0) << run.output;

  // 16x16 pixels, token patch 4: a 4x4 token grid of 16 channels.
  at::Tensor img_ids = at::zeros({1, 16, 4});
  for (int64_t r = 0; r < 4; ++r) {
    for (int64_t c = 0; c < 4; ++c) {
      img_ids[0][r * 4 + c][1] = r;
      img_ids[0][r * 4 + c][2] = c;
    }
  }
  at::Tensor txt_ids = at::zeros({1, 512, 4});
  txt_ids.select(2, 3).copy_(at::arange(512, at::kFloat));
  write_safetensors(out + "/dit_in.safetensors",
                    {{"in.img", seeded_randn(11, {1, 16, 4, 4}).flatten(2).transpose(1, 2).contiguous()},
                     {"in.img_ids", img_ids},
                     {"in.txt", SafetensorsFile::open(out + "/te_out.safetensors")->tensor("out.context")},
                     {"in.txt_ids", txt_ids}});
  run = test::run_untwist({"dit", "--weights", golden("flux2_klein_tiny"), "--inputs", out + "/dit_in.safetensors",
                           "--output", out + "/dit_out.safetensors", "--steps", "2", "--dtype", "float32"});
  ASSERT_EQ(run.status, 0) << run.output;
  const at::Tensor tokens = SafetensorsFile::open(out + "/dit_out.safetensors")->tensor("out.denoised");  // [1, 16, 16]
  test::expect_runner_decode_matches_png(tokens.transpose(1, 2).reshape({1, 16, 4, 4}), golden("ae2_tiny"), out,
                                         out + "/0-a-red-fox.png");
}

TEST_F(Flux2Pipeline, EditImagesAreSeenAndDevSaysItsEncoderIsNotSupported) {
  const std::string out = test::scratch_dir();
  write_png(out + "/edit.png", at::rand({3, 20, 24}));
  auto run = test::run_untwist(with(with({"generate"}, components()), {"-p", "a fox", "-o", out + "/plain"}));
  ASSERT_EQ(run.status, 0) << run.output;
  run = test::run_untwist(
      with(with({"generate"}, components()), {"-p", "a fox", "--edit-image", out + "/edit.png", "-o", out + "/edit"}));
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_FALSE(at::equal(read_image(out + "/edit/0-a-fox.png"), read_image(out + "/plain/0-a-fox.png")));

  std::vector<std::string> dev = components();
  *std::find(dev.begin(), dev.end(), golden("flux2_klein_tiny")) = golden("flux2_dev_tiny");
  run = test::run_untwist(with(with({"generate"}, dev), {"-p", "a fox", "-o", out + "/dev"}));
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("not supported yet"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(out + "/dev"));

  run = test::run_untwist({"generate", "-p", "a fox", "--model", golden("flux2_klein_tiny"), "--ae", golden("ae2_tiny"),
                           "-o", out + "/missing"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("--text-encoder"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace untwist
