// Prompt to PNG with tiny components of every kind, as a user runs it: the
// golden tiny DiT and autoencoder, random T5 and CLIP encoders of matching
// widths written here, the real CLIP vocabulary and the tiny T5 model.
#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/image_file.h"
#include "io/safetensors.h"
#include "model/clip_tokenizer.h"
#include "model/flux1/packing.h"
#include "model/seeded_noise.h"
#include "model/t5_tokenizer.h"
#include "pipeline/image_set.h"
#include "test_support.h"

namespace untwist {
namespace {

namespace fs = std::filesystem;

std::string golden(const std::string& name) { return test::golden_dir() + "/" + name + ".safetensors"; }
std::string tokenizers() { return test::golden_dir() + "/../tokenizers"; }

class PipelineEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::scratch_dir());
    test::tiny_flux1_components(*dir_, 64);  // a CLIP too wide for the transformer
  }

  // The tiny FLUX.1 pipeline (CLIP of `clip_width`, images `width` x 48), 3 steps.
  static std::vector<std::string> components(int64_t clip_width = 32, const std::string& width = "32") {
    std::vector<std::string> args = test::tiny_flux1_components(*dir_, clip_width);
    *(std::find(args.begin(), args.end(), "-W") + 1) = width;
    args.insert(args.end(), {"--steps", "3"});
    return args;
  }

  static std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  static std::string* dir_;
};

std::string* PipelineEndToEnd::dir_ = nullptr;

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(PipelineEndToEnd, GenerateIsDeterministicPerSeedAndCarriesItsRecipe) {
  const std::string out = test::scratch_dir();
  auto run = test::run_untwist(with(with({"generate"}, components()), {"-p", "a red fox", "-s", "7", "-o", out + "/a"}));
  ASSERT_EQ(run.status, 0) << run.output;
  run = test::run_untwist(with(with({"generate"}, components()), {"-p", "a red fox", "-s", "7", "-o", out + "/b"}));
  ASSERT_EQ(run.status, 0) << run.output;
  run = test::run_untwist(with(with({"generate"}, components()), {"-p", "a red fox", "-s", "8", "-o", out + "/c"}));
  ASSERT_EQ(run.status, 0) << run.output;
  run = test::run_untwist(
      with(with({"generate"}, components()), {"-p", "a red fox", "-s", "7", "--low-memory", "-o", out + "/d"}));
  ASSERT_EQ(run.status, 0) << run.output;
  const std::string name = "/0-a-red-fox.png";
  EXPECT_EQ(bytes_of(out + "/a" + name), bytes_of(out + "/b" + name));
  EXPECT_EQ(bytes_of(out + "/a" + name), bytes_of(out + "/d" + name)) << "--low-memory changes memory, not images";
  EXPECT_NE(bytes_of(out + "/a" + name), bytes_of(out + "/c" + name));
  const at::Tensor image = read_image(out + "/a" + name);
  EXPECT_EQ(image.sizes().vec(), (std::vector<int64_t>{3, 48, 32}));
  const auto recipe = nlohmann::json::parse(read_png_text(out + "/a" + name).at("untwist"));
  EXPECT_EQ(recipe["prompt"], "a red fox");
  EXPECT_EQ(recipe["seed"], 7);
  EXPECT_EQ(recipe["steps"], 3);
  EXPECT_TRUE(fs::exists(out + "/a/manifest.json"));
}

// --low-memory: the text encoders are loaded again for each of the three sets.
TEST_F(PipelineEndToEnd, StyleCompareKeepsTheReferenceAndChangesTheTargets) {
  const std::string out = test::scratch_dir();
  const auto run = test::run_untwist(with(with({"style"}, components()),
                                          {"--ref-prompt", "a wooden bull", "-p", "a giraffe", "-p", "a lion",
                                           "--compare", "--blocks", "all", "--meter", "--low-memory", "-o", out}));
  ASSERT_EQ(run.status, 0) << run.output;
  for (const char* mode : {"none", "full", "untwisted"}) {
    SCOPED_TRACE(mode);
    EXPECT_TRUE(at::equal(read_image(out + "/" + mode + "/reference.png"), read_image(out + "/none/reference.png")))
        << "the reference row never sees the targets";
  }
  EXPECT_FALSE(at::equal(read_image(out + "/full/1-a-giraffe.png"), read_image(out + "/none/1-a-giraffe.png")));
  EXPECT_FALSE(at::equal(read_image(out + "/untwisted/1-a-giraffe.png"), read_image(out + "/full/1-a-giraffe.png")));
  std::ifstream manifest_file(out + "/manifest.json");
  const auto manifest = nlohmann::json::parse(manifest_file);
  ASSERT_EQ(manifest["sets"].size(), 3u);
  EXPECT_EQ(manifest["sets"][2]["share"]["mode"], "untwisted");
  EXPECT_EQ(manifest["sets"][2]["share"]["s_hf"], nlohmann::json({0.25, 0.75}));
  EXPECT_GT(fs::file_size(out + "/grid.png"), 5000u);
  std::ifstream meter_file(out + "/full/meter.json");
  const auto meter = nlohmann::json::parse(meter_file);
  EXPECT_EQ(meter["readings"].size(), 3u * 4u) << "3 steps x 4 shared blocks";
  EXPECT_EQ(meter["grid"], nlohmann::json({12, 8}));
}

// A reference image keeps its aspect ratio at the set's area (--ref-scale
// times its side): a 60x90 painting for a 32x48 set is sampled at 48x32 on a
// token grid of its own, a square one at 40x40; the reference files are the
// images as sampled, the targets the set's size, and where the references sit
// (--ref-positions) changes what the targets see.
TEST_F(PipelineEndToEnd, StyleKeepsEachReferenceImagesShapeOnAGridOfItsOwn) {
  const std::string out = test::scratch_dir();
  const std::string painting = out + "/painting.png", square = out + "/square.png";
  write_png(painting, at::rand({3, 60, 90}));
  write_png(square, at::rand({3, 100, 100}));
  const auto run = test::run_untwist(
      with(with({"style"}, components()), {"--ref-image", painting, "-p", "a giraffe", "-o", out + "/set"}));
  ASSERT_EQ(run.status, 0) << run.output;
  const at::Tensor reference = read_image(out + "/set/reference.png");
  EXPECT_EQ(reference.sizes().vec(), (std::vector<int64_t>{3, 32, 48}));
  EXPECT_LE(test::relative_error(reference, resize_and_crop(read_image(painting), 32, 48)), 0.01);
  EXPECT_EQ(read_image(out + "/set/1-a-giraffe.png").sizes().vec(), (std::vector<int64_t>{3, 48, 32}));

  const auto two = [&](const std::string& positions) {
    return test::run_untwist(with(with({"style"}, components()),
                                  {"--ref-image", painting, "--ref-image", square, "--ref-scale", "1", "--ref-scale",
                                   "1.25", "--ref-positions", positions, "-p", "a giraffe", "--blocks", "all", "--mode",
                                   "full", "--meter", "-o", out + "/" + positions}));
  };
  for (const std::string positions : {"centre", "corner"}) {
    const auto both = two(positions);
    ASSERT_EQ(both.status, 0) << both.output;
  }
  EXPECT_EQ(read_image(out + "/centre/reference-1.png").sizes().vec(), (std::vector<int64_t>{3, 32, 48}));
  EXPECT_EQ(read_image(out + "/centre/reference-2.png").sizes().vec(), (std::vector<int64_t>{3, 48, 48}));
  std::ifstream manifest_file(out + "/centre/manifest.json");
  const auto manifest = nlohmann::json::parse(manifest_file);
  EXPECT_EQ(manifest["references"][1]["size"], nlohmann::json({48, 48}));
  EXPECT_EQ(manifest["reference_positions"], "centre");
  EXPECT_TRUE(fs::exists(out + "/centre/meter.json"));
  EXPECT_FALSE(at::equal(read_image(out + "/centre/1-a-giraffe.png"), read_image(out + "/corner/1-a-giraffe.png")))
      << "the references' positions must reach the targets";
  const auto misplaced = test::run_untwist(with(with({"style"}, components()), {"--ref-prompt", "a painting",
                                                                                "--ref-scale", "2", "-p", "a giraffe",
                                                                                "-o", out + "/misplaced"}));
  EXPECT_EQ(misplaced.status, 2) << misplaced.output;
  EXPECT_NE(misplaced.output.find("give --ref-image"), std::string::npos) << misplaced.output;
  EXPECT_FALSE(fs::exists(out + "/misplaced"));
}

// Two references, one an image and one generated from its caption alone, the
// second weighted 3: both reference rows are kept, the weights change the
// targets, and the manifest lists the references in order.
TEST_F(PipelineEndToEnd, StyleTakesSeveralWeightedReferences) {
  const std::string out = test::scratch_dir();
  const std::string painting = out + "/painting.png";
  write_png(painting, at::rand({3, 48, 32}));
  const auto style = [&](const std::string& folder, const std::string& second_weight) {
    return test::run_untwist(with(with({"style"}, components()),
                                  {"--ref-image", painting, "--ref-image", painting, "--ref-prompt", "a painting",
                                   "--ref-weight", "1", "--ref-weight", second_weight, "-p", "a giraffe", "--blocks",
                                   "all", "--mode", "full", "-o", out + "/" + folder}));
  };
  const auto even = style("even", "1"), weighted = style("weighted", "3");
  ASSERT_EQ(even.status, 0) << even.output;
  ASSERT_EQ(weighted.status, 0) << weighted.output;
  for (const char* name : {"reference-1.png", "reference-2.png"}) {
    EXPECT_LE(test::relative_error(read_image(out + "/weighted/" + name), read_image(painting)), 0.01) << name;
  }
  EXPECT_FALSE(at::equal(read_image(out + "/even/1-a-giraffe.png"), read_image(out + "/weighted/1-a-giraffe.png")));
  std::ifstream manifest_file(out + "/weighted/manifest.json");
  const auto manifest = nlohmann::json::parse(manifest_file);
  ASSERT_EQ(manifest["references"].size(), 2u);
  EXPECT_EQ(manifest["references"][0]["prompt"], "a painting");
  EXPECT_EQ(manifest["references"][1]["weight"], 3.0);

  const auto mismatched = test::run_untwist(with(with({"style"}, components()),
                                                 {"--ref-prompt", "a", "--ref-prompt", "b", "--ref-weight", "2", "-p",
                                                  "c", "-o", out + "/bad"}));
  EXPECT_EQ(mismatched.status, 2) << mismatched.output;
  EXPECT_NE(mismatched.output.find("one --ref-weight per reference"), std::string::npos) << mismatched.output;
  EXPECT_FALSE(fs::exists(out + "/bad"));
}

// --ref-mode invert: the reference row follows the image's inversion instead
// of the image noised along the schedule, which the targets see.
TEST_F(PipelineEndToEnd, StyleFollowsAnInvertedReference) {
  const std::string out = test::scratch_dir();
  const std::string painting = out + "/painting.png";
  write_png(painting, at::rand({3, 48, 32}));
  const auto style = [&](const std::string& mode) {
    return test::run_untwist(with(with({"style"}, components()),
                                  {"--ref-image", painting, "--ref-prompt", "a painting", "--ref-mode", mode,
                                   "--ref-solver", "rf-solver", "-p", "a giraffe", "--blocks", "all", "--mode", "full",
                                   "-o", out + "/" + mode}));
  };
  const auto noised = style("noise"), inverted = style("invert");
  ASSERT_EQ(noised.status, 0) << noised.output;
  ASSERT_EQ(inverted.status, 0) << inverted.output;
  EXPECT_TRUE(at::equal(read_image(out + "/invert/reference.png"), read_image(out + "/noise/reference.png")));
  EXPECT_FALSE(at::equal(read_image(out + "/invert/1-a-giraffe.png"), read_image(out + "/noise/1-a-giraffe.png")))
      << "the targets see the inverted reference";
  std::ifstream manifest_file(out + "/invert/manifest.json");
  const auto manifest = nlohmann::json::parse(manifest_file);
  EXPECT_EQ(manifest["reference_mode"], "invert");
  EXPECT_EQ(manifest["reference_solver"], "rf-solver");

  const auto without_image = test::run_untwist(with(with({"style"}, components()),
                                                    {"--ref-prompt", "a", "--ref-mode", "invert", "-p", "c", "-o",
                                                     out + "/bad"}));
  EXPECT_EQ(without_image.status, 2) << without_image.output;
  EXPECT_FALSE(fs::exists(out + "/bad"));
}

TEST_F(PipelineEndToEnd, ComponentsThatDoNotFitAreNamed) {
  const std::string out = test::scratch_dir();
  auto run = test::run_untwist(with(with({"generate"}, components(64)), {"-p", "x", "-o", out}));
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("clip_64.safetensors"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("vec_in_dim"), std::string::npos) << run.output;
  run = test::run_untwist({"generate", "-p", "x", "--model", golden("flux_dev_tiny"), "-o", out});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("missing component"), std::string::npos) << run.output;
  run = test::run_untwist(with(with({"generate"}, components(32, "34")), {"-p", "x", "-o", out}));
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("multiples of 4"), std::string::npos) << run.output;
  EXPECT_TRUE(fs::is_empty(out));
}

TEST_F(PipelineEndToEnd, NanInATextEncoderIsNamed) {
  std::vector<std::string> args = with({"generate"}, components());
  const auto clean = SafetensorsFile::open(*dir_ + "/t5.safetensors");
  NamedTensors t5;
  for (const auto& entry : clean->entries()) {
    t5.emplace_back(entry.name, clean->tensor(entry.name).clone());
    if (entry.name == "encoder.block.1.layer.1.DenseReluDense.wo.weight") t5.back().second[3][7] = NAN;
  }
  write_safetensors(*dir_ + "/t5_nan.safetensors", t5);
  *std::find(args.begin(), args.end(), *dir_ + "/t5.safetensors") = *dir_ + "/t5_nan.safetensors";
  const std::string out = test::scratch_dir();
  const auto run = test::run_untwist(with(args, {"-p", "x", "-o", out}));
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("t5_nan.safetensors: the T5 encoder produced NaN or Inf: its tensor "
                            "'encoder.block.1.layer.1.DenseReluDense.wo.weight' holds NaN or Inf"),
            std::string::npos)
      << run.output;
  EXPECT_TRUE(fs::is_empty(out));
}

// The model.* tensors of a golden file, without the prefix, split into shards
// with a diffusers index beside them.
void write_sharded(const std::string& golden_path, const std::string& folder, const std::string& stem, int shards) {
  fs::create_directories(folder);
  const auto file = SafetensorsFile::open(golden_path);
  std::vector<NamedTensors> parts(static_cast<size_t>(shards));
  nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  size_t n = 0;
  for (const auto& entry : file->entries()) {
    if (entry.name.rfind("model.", 0) != 0) continue;
    const std::string name = entry.name.substr(6);
    const size_t shard = n++ % static_cast<size_t>(shards);
    parts[shard].emplace_back(name, file->tensor(entry.name));
    index["weight_map"][name] = stem + "-" + std::to_string(shard + 1) + ".safetensors";
  }
  for (int s = 0; s < shards; ++s) {
    write_safetensors(folder + "/" + stem + "-" + std::to_string(s + 1) + ".safetensors", parts[static_cast<size_t>(s)]);
  }
  std::ofstream(folder + "/" + stem + ".safetensors.index.json") << index.dump(2);
}

TEST_F(PipelineEndToEnd, DiffusersFolderGivesTheSameImagesAsSingleFiles) {
  const std::string out = test::scratch_dir();
  const std::string dir = out + "/FLUX.1-tiny";
  write_sharded(golden("flux_dev_tiny_diffusers"), dir + "/transformer", "diffusion_pytorch_model", 3);
  std::ofstream(dir + "/transformer/config.json") << R"({"_class_name": "FluxTransformer2DModel", "axes_dims_rope": [8, 12, 12]})";
  write_sharded(golden("ae_tiny_diffusers"), dir + "/vae", "diffusion_pytorch_model", 1);
  fs::create_directories(dir + "/text_encoder");
  fs::copy_file(*dir_ + "/clip_32.safetensors", dir + "/text_encoder/model.safetensors");
  fs::create_directories(dir + "/text_encoder_2");
  const auto t5 = SafetensorsFile::open(*dir_ + "/t5.safetensors");
  NamedTensors first, second;
  for (const auto& entry : t5->entries()) {
    (first.size() <= second.size() ? first : second).emplace_back(entry.name, t5->tensor(entry.name));
  }
  write_safetensors(dir + "/text_encoder_2/model-00001-of-00002.safetensors", first);
  write_safetensors(dir + "/text_encoder_2/model-00002-of-00002.safetensors", second);
  fs::create_directories(dir + "/tokenizer_2");
  fs::copy_file(tokenizers() + "/t5_tiny/spiece.model", dir + "/tokenizer_2/spiece.model");

  const std::vector<std::string> common = {"-p", "a red fox", "-s", "3", "-W", "32", "-H", "48", "--steps", "3",
                                           "--t5-max-length", "16", "--dtype", "float32"};
  auto run = test::run_untwist(with({"generate", "--model-dir", dir, "--clip-tokenizer",
                                     tokenizers() + "/clip/bpe_simple_vocab_16e6.txt.gz", "-o", out + "/d"},
                                    common));
  ASSERT_EQ(run.status, 0) << run.output;
  run = test::run_untwist(with(with({"generate"}, components()), {"-p", "a red fox", "-s", "3", "-o", out + "/s"}));
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_TRUE(at::equal(read_image(out + "/d/0-a-red-fox.png"), read_image(out + "/s/0-a-red-fox.png")));
}


// generate == tokenize -> te (T5, CLIP) -> dit --steps -> ae, each runner on its own.
TEST_F(PipelineEndToEnd, GenerateEqualsTheStepByStepRouteThroughTheRunners) {
  const std::string out = test::scratch_dir();
  const std::string prompt = "a red fox";
  auto run = test::run_untwist(with(with({"generate"}, components()), {"-p", prompt, "-s", "11", "-o", out}));
  ASSERT_EQ(run.status, 0) << run.output;

  const auto t5_ids = T5Tokenizer::load(tokenizers() + "/t5_tiny/spiece.model").input_ids(prompt, 16);
  const auto clip_ids =
      ClipTokenizer::load(tokenizers() + "/clip/bpe_simple_vocab_16e6.txt.gz").input_ids(prompt, 77);
  write_safetensors(out + "/t5_in.safetensors", {{"in.input_ids", at::tensor(t5_ids).reshape({1, 16})}});
  write_safetensors(out + "/clip_in.safetensors", {{"in.input_ids", at::tensor(clip_ids).reshape({1, 77})}});
  run = test::run_untwist({"te", "--kind", "t5", "--weights", *dir_ + "/t5.safetensors", "--inputs",
                           out + "/t5_in.safetensors", "--output", out + "/t5_out.safetensors"});
  ASSERT_EQ(run.status, 0) << run.output;
  run = test::run_untwist({"te", "--kind", "clip", "--weights", *dir_ + "/clip_32.safetensors", "--inputs",
                           out + "/clip_in.safetensors", "--output", out + "/clip_out.safetensors"});
  ASSERT_EQ(run.status, 0) << run.output;

  // 48x32 pixels, autoencoder downscale 2: a 24x16 latent, 12x8 packed tokens.
  write_safetensors(out + "/dit_in.safetensors",
                    {{"in.img", pack_latents(seeded_randn(11, {1, 4, 24, 16}))},
                     {"in.img_ids", image_position_ids(1, 12, 8)},
                     {"in.txt", SafetensorsFile::open(out + "/t5_out.safetensors")->tensor("out.last_hidden_state")},
                     {"in.txt_ids", at::zeros({1, 16, 3})},
                     {"in.y", SafetensorsFile::open(out + "/clip_out.safetensors")->tensor("out.pooler_output")}});
  run = test::run_untwist({"dit", "--weights", golden("flux_dev_tiny"), "--inputs", out + "/dit_in.safetensors",
                           "--output", out + "/dit_out.safetensors", "--steps", "3", "--guidance", "3.5",
                           "--dtype", "float32"});
  ASSERT_EQ(run.status, 0) << run.output;
  test::expect_runner_decode_matches_png(
      SafetensorsFile::open(out + "/dit_out.safetensors")->tensor("out.denoised_latent"), golden("ae_tiny"), out,
      out + "/0-a-red-fox.png");
}

}  // namespace
}  // namespace untwist
