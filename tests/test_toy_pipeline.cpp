// The shipped toy checkpoint as a model like any other: `untwist generate`,
// `style` and `invert` run it with --model alone, at its own 32x32 size, and
// generate draws exactly what the toy's own sampler draws.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "io/image_file.h"
#include "pipeline/inversion.h"
#include "test_support.h"
#include "toy/toy_sampler.h"
#include "toy/world.h"

namespace untwist {
namespace {

namespace fs = std::filesystem;

std::string toy_model() { return std::string(UNTWIST_SOURCE_DIR) + "/models/toy/toy.safetensors"; }

// The scene's full prompt in the words the shipped model knows.
std::string shipped_prompt(const toy::Scene& scene) {
  return toy::prompt_for(scene, toy::named_in(toy::load_toy(toy_model()).text().vocabulary, {}));
}

// An image as write_png stores it: 8-bit levels.
at::Tensor levels(const at::Tensor& rgb) { return (rgb.to(at::kFloat).clamp(0, 1) * 255).round(); }

// The "PSNR X dB" `untwist invert` prints; NaN when it prints none.
double printed_psnr(const std::string& output) {
  std::smatch match;
  if (!std::regex_search(output, match, std::regex(R"(PSNR (-?[0-9.]+|inf) dB)"))) return std::nan("");
  return match[1] == "inf" ? INFINITY : std::stod(match[1]);
}

// generate on the toy checkpoint with no size, steps or other component
// given: the toy's 32x32 and 20 steps, and, image by image (seed, seed + 1),
// the toy sampler's pictures for the same prompts and seeds.
TEST(ToyPipeline, GenerateDrawsWhatTheToySamplerDraws) {
  const std::string out = test::scratch_dir();
  const std::vector<std::string> prompts = {"red circle on blue", "a striped white square on black"};
  const auto run = test::run_untwist({"generate", "--model", toy_model(), "-p", prompts[0], "-p", prompts[1], "-s", "5",
                                      "--dtype", "float32", "-o", out});
  ASSERT_EQ(run.status, 0) << run.output;

  toy::ToyRequest request;
  request.prompts = prompts;
  request.seeds = {5, 6};
  const at::Tensor expected = toy::sample_toy(toy::load_toy(toy_model()), request);  // [2, 3, 32, 32]
  const std::vector<std::string> files = {out + "/0-red-circle-on-blue.png",
                                          out + "/1-a-striped-white-square-on-black.png"};
  for (int64_t i = 0; i < 2; ++i) {
    const std::string& file = files[static_cast<size_t>(i)];
    const at::Tensor image = read_image(file);
    ASSERT_EQ(image.sizes().vec(), (std::vector<int64_t>{3, 32, 32}));
    EXPECT_TRUE(at::equal(levels(image), levels(expected[i])))
        << file << ": off by up to " << (levels(image) - levels(expected[i])).abs().max().item<double>() << " levels";
    const auto recipe = nlohmann::json::parse(read_png_text(file).at("untwist"));
    EXPECT_EQ(recipe["variant"], "toy");
    EXPECT_EQ(recipe["steps"], 20);
    EXPECT_EQ(recipe["width"], 32);
    EXPECT_EQ(recipe["height"], 32);
    EXPECT_FALSE(recipe.contains("ae")) << "the toy has no autoencoder file";
  }
  // Unrelated images differ by far more than a level: the comparison can fail.
  EXPECT_GT((levels(expected[0]) - levels(expected[1])).abs().max().item<double>(), 50.0);
}

TEST(ToyPipeline, SizesAreTheToysPixelsAndAnyEvenSizeWorks) {
  const std::string out = test::scratch_dir();
  auto run = test::run_untwist({"generate", "--model", toy_model(), "-p", "ring", "-W", "48", "-H", "40", "--steps", "2",
                                "-o", out});
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(read_image(out + "/0-ring.png").sizes().vec(), (std::vector<int64_t>{3, 40, 48}));
  run = test::run_untwist({"generate", "--model", toy_model(), "-p", "ring", "-W", "33", "-o", out + "/odd"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("multiples of 2"), std::string::npos) << run.output;
  run = test::run_untwist({"generate", "--model", toy_model(), "--ae", toy_model(), "-p", "ring", "-o", out + "/ae"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("--ae"), std::string::npos) << run.output;
}

TEST(ToyPipeline, AWordOutsideTheVocabularyIsAUsageErrorNamingIt) {
  const std::string out = test::scratch_dir() + "/out";
  const auto run = test::run_untwist({"generate", "--model", toy_model(), "-p", "a fluffy circle", "-o", out});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("'fluffy'"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("circle square triangle"), std::string::npos) << "the vocabulary is listed: " << run.output;
  EXPECT_FALSE(fs::exists(out));
}

// A 48x40 reference image keeps its shape at the toy's 32x32 area (a token
// grid of its own) and its file is that image, in every mode of --compare,
// for several references and for references followed along their inversion.
TEST(ToyPipeline, StyleKeepsEachReferenceRowTheResampledImage) {
  const std::string dir = test::scratch_dir();
  const at::Tensor wide = at::rand({3, 40, 48}, at::TensorOptions().dtype(at::kFloat));
  toy::Scene scene;
  scene.shape = toy::Shape::Ring;
  scene.foreground = 3;
  scene.background = 4;
  const at::Tensor rendered = toy::render(scene);  // [3, 32, 32]
  write_png(dir + "/wide.png", wide);
  write_png(dir + "/scene.png", rendered);
  const at::Tensor wide_expected = levels(resize_and_crop(read_image(dir + "/wide.png"), 30, 36));  // 1080 ~ 32^2
  const at::Tensor scene_expected = levels(read_image(dir + "/scene.png"));

  auto run = test::run_untwist({"style", "--model", toy_model(), "--ref-image", dir + "/wide.png", "-p", "square",
                                "-p", "circle", "--compare", "--steps", "4", "-o", dir + "/compare"});
  ASSERT_EQ(run.status, 0) << run.output;
  for (const char* mode : {"none", "full", "untwisted"}) {
    const at::Tensor reference = read_image(dir + "/compare/" + mode + "/reference.png");
    EXPECT_TRUE(at::equal(levels(reference), wide_expected)) << mode;
    EXPECT_EQ(read_image(dir + "/compare/" + mode + "/1-square.png").sizes().vec(), (std::vector<int64_t>{3, 32, 32}));
  }

  run = test::run_untwist({"style", "--model", toy_model(), "--ref-image", dir + "/scene.png", "--ref-prompt",
                           shipped_prompt(scene), "--ref-image", dir + "/wide.png", "--ref-mode", "invert", "-p",
                           "square", "--steps", "4", "-o", dir + "/invert"});
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_TRUE(at::equal(levels(read_image(dir + "/invert/reference-1.png")), scene_expected));
  EXPECT_TRUE(at::equal(levels(read_image(dir + "/invert/reference-2.png")), wide_expected));
  EXPECT_TRUE(fs::exists(dir + "/invert/1-square.png"));

  run = test::run_untwist({"style", "--model", toy_model(), "--ref-prompt", "striped green square on white", "-p",
                           "ring", "--steps", "4", "-o", dir + "/prompted"});
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(read_image(dir + "/prompted/reference.png").sizes().vec(), (std::vector<int64_t>{3, 32, 32}));
}

// A rendered toy scene inverted under its prompt and sampled back, at 20
// steps, for each solver: the printed PSNR against what sampling the prompt
// from fresh noise reaches (the same prompt, no inversion).
TEST(ToyPipeline, InvertReconstructsARenderedSceneBetterThanSamplingItsPrompt) {
  const std::string dir = test::scratch_dir();
  toy::Scene scene;
  scene.shape = toy::Shape::Square;
  scene.foreground = 0;  // red
  scene.background = 2;  // blue
  scene.texture = toy::Texture::Solid;
  scene.cx = 14;
  scene.cy = 17;
  scene.size = 8;
  const std::string prompt = shipped_prompt(scene);
  write_png(dir + "/scene.png", toy::render(scene));
  const at::Tensor image = read_image(dir + "/scene.png");

  toy::ToyRequest request;
  request.prompts = {prompt, prompt, prompt, prompt};
  request.seeds = {0, 1, 2, 3};
  const at::Tensor sampled = toy::sample_toy(toy::load_toy(toy_model()), request);
  double noise_only = 0;
  for (int64_t i = 0; i < sampled.size(0); ++i) noise_only = std::max(noise_only, image_psnr(sampled[i], image));
  std::printf("'%s' sampled from fresh noise, best of 4 seeds: PSNR %.2f dB\n", prompt.c_str(), noise_only);

  for (const char* solver : {"euler", "rf-solver", "fireflow"}) {
    const std::string output = dir + "/" + solver + ".png";
    const auto run = test::run_untwist({"invert", "--model", toy_model(), "--image", dir + "/scene.png", "-p", prompt,
                                        "--solver", solver, "--steps", "20", "--dtype", "float32", "-o", output});
    ASSERT_EQ(run.status, 0) << run.output;
    const double psnr = printed_psnr(run.output);
    std::printf("%s, 20 steps: PSNR %.2f dB\n", solver, psnr);
    ASSERT_TRUE(std::isfinite(psnr)) << run.output;
    // 35, 58 and 48 dB (euler, rf-solver, fireflow) where sampling the prompt afresh reaches 12.
    EXPECT_GE(psnr, 25.0) << solver << run.output;
    EXPECT_GE(image_psnr(read_image(output), image), 25.0) << solver << ": the image written";
    EXPECT_GT(psnr, noise_only + 10.0) << solver << ": inversion does little better than sampling the prompt afresh";
  }
}

}  // namespace
}  // namespace untwist
