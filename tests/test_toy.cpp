// The toy world, its vocabulary, the toy checkpoint format, the trainer's
// resume and fit, the metrics and the demo's headline on the shipped model.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "io/safetensors.h"
#include "io/weights.h"
#include "model/flux1/flux_config.h"
#include "model/toy/pixel_latents.h"
#include "model/toy/toy_model.h"
#include "model/toy/toy_text.h"
#include "sample/dit_sampler.h"
#include "share/share_settings.h"
#include "test_support.h"
#include "toy/evaluation.h"
#include "toy/metrics.h"
#include "toy/probe.h"
#include "toy/toy_checkpoint.h"
#include "toy/toy_sampler.h"
#include "toy/trainer.h"
#include "toy/world.h"
#include "util/errors.h"

namespace untwist::toy {
namespace {

Scene scene_of(Shape shape, int foreground, int background, Texture texture) {
  Scene scene;
  scene.shape = shape;
  scene.foreground = foreground;
  scene.background = background;
  scene.texture = texture;
  return scene;
}

// An untrained toy checkpoint at `path`.
void write_initial_checkpoint(const std::string& path, uint64_t seed,
                              const std::map<std::string, std::string>& metadata = checkpoint_metadata("untrained")) {
  NamedTensors tensors;
  for (const auto& [name, tensor] : initial_weights(seed)) tensors.emplace_back(name, tensor);
  write_safetensors(path, tensors, metadata);
}

TEST(ToyWorld, RenderingPaintsTheMaskInTheForegroundAndTheRestInTheBackground) {
  std::mt19937_64 rng(3);
  std::set<int> shapes_seen;
  for (int i = 0; i < 200; ++i) {
    const Scene scene = random_scene(rng);
    shapes_seen.insert(static_cast<int>(scene.shape));
    ASSERT_NE(scene.foreground, scene.background);
    const at::Tensor mask = object_mask(scene);
    const int64_t pixels = mask.sum().item<int64_t>();
    EXPECT_GT(pixels, 15) << prompt_for(scene);
    EXPECT_LT(pixels, kImageSize * kImageSize / 2 + 100) << prompt_for(scene);
    const at::Tensor image = render(scene);
    const auto bg = colour_rgb(scene.background);
    const at::Tensor background = image.masked_select(~mask.unsqueeze(0).expand({3, kImageSize, kImageSize}))
                                      .reshape({3, -1});
    for (int c = 0; c < 3; ++c) EXPECT_TRUE(at::allclose(background[c], at::full({1}, bg[c])));
    const auto fg = colour_rgb(scene.foreground);
    for (int c = 0; c < 3; ++c) {  // inside: the foreground colour or its texture shade
      const at::Tensor inside = image.select(0, c).masked_select(mask);
      const at::Tensor plain = (inside - fg[c]).abs() < 1e-6, shade = (inside - (0.45f * fg[c] + 0.1f)).abs() < 1e-6;
      EXPECT_TRUE((plain | shade).all().item<bool>());
      if (scene.texture == Texture::Solid) {
        EXPECT_TRUE(plain.all().item<bool>());
      }
    }
  }
  EXPECT_EQ(shapes_seen.size(), shape_names().size());
}

TEST(ToyWorld, PositionsSpreadSoUnrelatedMasksRarelyOverlap) {
  std::mt19937_64 rng(5);
  double iou = 0, iou_apart = 0;
  int apart = 0;
  const int pairs = 1000;
  for (int i = 0; i < pairs; ++i) {
    const Scene a = random_scene(rng), b = random_scene(rng);
    const double overlap = mask_iou(object_mask(a), object_mask(b));
    iou += overlap;
    if (cell_of(a) != cell_of(b)) {
      iou_apart += overlap;
      ++apart;
    }
  }
  std::printf("mean mask IoU of unrelated scenes %.3f, of scenes in different cells %.3f\n", iou / pairs,
              iou_apart / apart);
  EXPECT_LT(iou / pairs, 0.18);
  EXPECT_LT(iou_apart / apart, 0.1) << "the benchmark's targets sit in another cell than their reference";
}

TEST(ToyWorld, EveryCellIsDrawnAndItsWordsNameIt) {
  std::mt19937_64 rng(8);
  std::set<int> cells;
  for (int i = 0; i < 500; ++i) {
    const Scene scene = random_scene(rng);
    const int cell = cell_of(scene);
    cells.insert(cell);
    EXPECT_LE(std::fabs(scene.cx - kCellCentres[static_cast<size_t>(cell % 3)]), kCellJitter + 1.0f);
    EXPECT_LE(std::fabs(scene.cy - kCellCentres[static_cast<size_t>(cell / 3)]), kCellJitter + 1.0f);
    EXPECT_EQ(cell_of_mask(object_mask(scene)), cell) << prompt_for(scene);
  }
  EXPECT_EQ(cells.size(), 9u);
  EXPECT_EQ(prompt_for(in_cell(scene_of(Shape::Cross, 6, 7, Texture::Dots), 7)), "dotted white cross bottom on black");
}

TEST(ToyText, PromptsTokenizeAndUnknownWordsAreUsageErrors) {
  const Scene scene = scene_of(Shape::Ring, 0, 2, Texture::Stripes);
  EXPECT_EQ(prompt_for(scene), "striped red ring centre on blue");
  EXPECT_EQ(prompt_for(in_cell(scene, 2), {true, false, false, false, true}), "ring top right");
  EXPECT_EQ(prompt_for(in_cell(scene, 6), {true, true, true, true, false}), "striped red ring on blue");
  std::vector<std::string> before_positions = vocabulary();
  ASSERT_EQ(before_positions.back(), "centre");
  before_positions.resize(before_positions.size() - 5);  // the position words come last
  EXPECT_EQ(prompt_for(scene, named_in(before_positions, {})), "striped red ring on blue")
      << "a checkpoint without position words is prompted without them";
  EXPECT_EQ(prompt_for(scene, named_in(vocabulary(), {})), "striped red ring centre on blue");
  const auto ids = tokenize(vocabulary(), "Striped red ring on blue");
  EXPECT_EQ(ids.size(), static_cast<size_t>(kMaxWords));
  EXPECT_EQ(vocabulary()[static_cast<size_t>(ids[0])], "striped");
  EXPECT_EQ(ids[5], kPad);
  EXPECT_EQ(tokenize(vocabulary(), ""), std::vector<int64_t>(kMaxWords, kPad));
  EXPECT_THROW(tokenize(vocabulary(), "a fluffy cat"), UsageError);
  EXPECT_EQ(tokenize(vocabulary(), "A red circle on the blue"), tokenize(vocabulary(), "red circle on blue"))
      << "articles name nothing in the toy world";
}

TEST(ToyText, PooledVectorIsTheMeanOfTheRealWords) {
  const int64_t words = static_cast<int64_t>(vocabulary().size());
  const TextEmbedding embedding{at::randn({words, 6}), at::randn({words, 6})};
  const at::Tensor ids = tokenize_batch(vocabulary(), {"red circle", ""});
  const TextConditioning encoding = encode_text(embedding, ids);
  EXPECT_EQ(encoding.txt.sizes().vec(), (std::vector<int64_t>{2, kMaxWords, 6}));
  const at::Tensor red = embedding.word[ids[0][0]] + embedding.previous[kPad];
  const at::Tensor circle = embedding.word[ids[0][1]] + embedding.previous[ids[0][0]];
  EXPECT_TRUE(at::allclose(encoding.txt[0][1], circle));
  EXPECT_TRUE(at::allclose(encoding.y[0], (red + circle) / 2));
  EXPECT_TRUE(at::equal(encoding.y[1], at::zeros({6})));
}

TEST(ToyText, WordOrderTellsForegroundFromBackground) {
  const int64_t words = static_cast<int64_t>(vocabulary().size());
  const TextEmbedding embedding{at::randn({words, 6}), at::randn({words, 6})};
  const TextConditioning a = encode_text(embedding, tokenize_batch(vocabulary(), {"red square on blue"}));
  const TextConditioning b = encode_text(embedding, tokenize_batch(vocabulary(), {"blue square on red"}));
  EXPECT_GT((a.y - b.y).abs().max().item<double>(), 1e-3) << "a bag of words would make these equal";
}

// The checkpoint `untwist demo` uses fits the code that reads it, and the
// model it holds draws the colours its prompt asks for.
TEST(ToyModel, ShippedCheckpointLoadsAndSamples) {
  const ToyModel model = load_toy(std::string(UNTWIST_SOURCE_DIR) + "/models/toy/toy.safetensors");
  // The model follows colours (it has not learned shapes: see its model
  // card): over 8 seeds nearly every background is black and at least half
  // of the objects white (it draws 8 and 5; an untrained model draws none).
  ToyRequest request;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    request.prompts.push_back("solid white square on black");
    request.seeds.push_back(seed);
  }
  const at::Tensor images = sample_toy(model, request);  // [8, 3, 32, 32]
  const at::Tensor white = (images > 0.7).all(1).sum({1, 2}), black = (images < 0.3).all(1).sum({1, 2});  // [8]
  const int64_t white_objects = (white > 40).sum().item<int64_t>();
  const int64_t black_backgrounds = (black > 400).sum().item<int64_t>();
  EXPECT_GE(white_objects, 4) << "images with an object in the foreground colour, of 8";
  EXPECT_GE(black_backgrounds, 7) << "images with the background colour, of 8";
}

// The demo's headline on the shipped checkpoint: sharing all attention copies
// the reference's layout, untwisting removes most of that copying.
TEST(ToyModel, ShippedCheckpointShowsTheDemoHeadline) {
  const ToyModel model = load_toy(std::string(UNTWIST_SOURCE_DIR) + "/models/toy/toy.safetensors");
  const std::vector<BenchmarkSet> sets = {demo_set()};
  std::map<ShareMode, Scores> scores;
  for (ShareMode mode : {ShareMode::None, ShareMode::Full, ShareMode::Untwisted}) {
    ShareSettings share;
    share.mode = mode;
    share.blocks = SharePlan::parse(kDefaultSharedBlocks);
    scores[mode] = evaluate(model, sets, &share, kDefaultSteps);
    std::printf("demo set, %s: copy IoU %.3f\n", share_mode_name(mode), scores[mode].copy_iou);
  }
  const double none = scores[ShareMode::None].copy_iou, full = scores[ShareMode::Full].copy_iou;
  EXPECT_GT(full, none) << "full sharing copies";
  EXPECT_LT(scores[ShareMode::Untwisted].copy_iou, (none + full) / 2) << "untwisting stays below halfway";
}

TEST(ToyModel, CheckpointLoadsLikeAnyFluxModel) {
  const std::string path = test::scratch_dir() + "/toy.safetensors";
  write_initial_checkpoint(path, 1);
  const FluxConfig config = detect_flux_config(Weights::load(path));
  EXPECT_EQ(config.hidden_size, 128);
  EXPECT_EQ(config.in_channels, 12);
  EXPECT_EQ(config.axes_dim, (std::vector<int64_t>{4, 14, 14}));
  EXPECT_FALSE(config.guidance_embed);
  const ToyModel model = load_toy(path);
  const at::Tensor images = at::rand({2, 3, kImageSize, kImageSize});
  EXPECT_LE(test::relative_error(unpack_pixels(pack_pixels(images), kTokenSide, kTokenSide), images), 1e-6);
}

// A checkpoint brings its own RoPE settings: one trained with another theta
// is sampled with that theta, not with the current toy_config()'s.
TEST(ToyModel, CheckpointKeepsTheRopeSettingsItWasTrainedWith) {
  const std::string path = test::scratch_dir() + "/toy.safetensors";
  auto metadata = checkpoint_metadata("untrained");
  auto params = nlohmann::json::parse(metadata.at("params"));
  ASSERT_NE(params.at("theta").get<double>(), 100.0);
  params["theta"] = 100.0;
  metadata["params"] = params.dump();
  write_initial_checkpoint(path, 1, metadata);
  EXPECT_EQ(load_toy(path).dit->config().theta, 100.0);
}

TEST(ToyTrainer, ResumingContinuesTheSameRun) {
  const std::string straight = test::scratch_dir(), split = test::scratch_dir();
  TrainOptions options;
  options.batch = 4;
  options.steps = 4;
  options.warmup = 2;
  options.output_dir = straight;
  const TrainReport whole = train(options);
  EXPECT_EQ(whole.last_step, 4);
  options.output_dir = split;
  options.stop_after = 2;
  EXPECT_EQ(train(options).last_step, 2);
  options.stop_after = 0;
  const TrainReport resumed = train(options);
  EXPECT_EQ(resumed.first_step, 2);
  EXPECT_EQ(resumed.last_step, 4);
  const auto a = SafetensorsFile::open(straight + "/toy.safetensors");
  const auto b = SafetensorsFile::open(split + "/toy.safetensors");
  const auto initial = initial_weights(0);
  double moved = 0, differ = 0;
  for (const auto& entry : a->entries()) {
    moved = std::max(moved, test::relative_error(a->tensor(entry.name), initial.at(entry.name)));
    differ = std::max(differ, test::relative_error(b->tensor(entry.name), a->tensor(entry.name)));
  }
  EXPECT_GT(moved, 1e-5) << "training changed the weights";
  EXPECT_LT(differ, 1e-4 * std::max(1.0, moved / 1e-3)) << "resumed run lands where the straight one did";
  EXPECT_EQ(b->metadata().at("kind"), "untwist-toy");
}

// The model and trainer can fit data: on four fixed scenes with their full
// prompts, a few dozen steps drive the loss far below its first value.
TEST(ToyTrainer, FitsFourFixedScenes) {
  TrainOptions options;
  options.output_dir = test::scratch_dir();
  options.fixed_scenes = 4;
  options.batch = 4;
  options.steps = 40;
  options.warmup = 5;
  options.drop_attribute = 0;
  options.drop_prompt = 0;
  options.checkpoint_every = options.steps;
  const TrainReport report = train(options);
  ASSERT_EQ(report.losses.size(), 40u);
  double last = 0;
  for (size_t i = report.losses.size() - 5; i < report.losses.size(); ++i) last += report.losses[i] / 5;
  std::printf("fixed scenes: loss %.4f at the first step, %.4f over the last 5\n", report.losses.front(), last);
  EXPECT_LT(last, 0.3 * report.losses.front());
}

TEST(ToyTrainer, Bf16AutocastTrainsCloseToFloat32) {
  // 20 steps, autocast forced on whatever the CPU: the first step's loss is
  // exact (the initial model predicts zero velocity, adaLN-Zero); every later
  // one sees the bfloat16 matmuls and the weights they trained. Batch 1 keeps
  // it short where bfloat16 matmul is emulated.
  TrainOptions options;
  options.batch = 1;
  options.steps = 20;
  options.warmup = 5;
  options.checkpoint_every = options.steps;
  options.output_dir = test::scratch_dir();
  const TrainReport float32 = train(options);
  const auto float32_weights = SafetensorsFile::open(options.output_dir + "/toy.safetensors");
  options.output_dir = test::scratch_dir();
  options.bf16_autocast = true;
  const TrainReport bf16 = train(options);
  const auto bf16_weights = SafetensorsFile::open(options.output_dir + "/toy.safetensors");
  EXPECT_FALSE(at::autocast::is_cpu_enabled()) << "autocast ends with the step";
  ASSERT_EQ(bf16.losses.size(), 20u);
  ASSERT_EQ(float32.losses.size(), 20u);
  double largest = 0;
  for (size_t step = 0; step < bf16.losses.size(); ++step) {
    ASSERT_TRUE(std::isfinite(bf16.losses[step])) << "step " << step;
    const double relative = std::abs(bf16.losses[step] - float32.losses[step]) / float32.losses[step];
    EXPECT_LT(relative, 0.02) << "step " << step << ": " << bf16.losses[step] << " vs " << float32.losses[step];
    largest = std::max(largest, relative);
  }
  std::printf("bf16 autocast: largest relative loss difference over 20 steps %.2e\n", largest);
  EXPECT_GT(largest, 0.0) << "the matmuls ran in bfloat16";
  const auto initial = initial_weights(0);
  std::vector<at::Tensor> moved_float32, moved_bf16;
  for (const auto& entry : float32_weights->entries()) {
    moved_float32.push_back((float32_weights->tensor(entry.name) - initial.at(entry.name)).flatten());
    moved_bf16.push_back((bf16_weights->tensor(entry.name) - initial.at(entry.name)).flatten());
  }
  EXPECT_LT(test::relative_error(at::cat(moved_bf16), at::cat(moved_float32)), 0.2);
}

TEST(ToyTrainer, TrainingTimesCoverTheNoisyEnd) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto share_above = [](const at::Tensor& t, double level) { return (t > level).to(at::kFloat).mean().item<double>(); };
  const at::Tensor logit_normal = training_times(20000, 0.0, generator);
  const at::Tensor mixed = training_times(20000, 0.5, generator);
  EXPECT_GT(logit_normal.min().item<double>(), 0.0);
  EXPECT_LT(mixed.max().item<double>(), 1.0);
  EXPECT_NEAR(share_above(logit_normal, 0.9), 0.014, 0.004);  // P(N(0,1) > logit 0.9 = 2.197)
  EXPECT_NEAR(share_above(mixed, 0.9), 0.5 * 0.1 + 0.5 * 0.014, 0.008);
  EXPECT_NEAR(share_above(mixed, 0.5), 0.5, 0.02);  // both halves symmetric about 0.5
}

TEST(ToyMetrics, ShapeClassifierIsExactOnRenderedImages) {
  std::mt19937_64 rng(17);
  int correct = 0, total = 300;
  double mask_agreement = 0;
  for (int i = 0; i < total; ++i) {
    const Scene scene = random_scene(rng);
    const at::Tensor image = render(scene);
    const at::Tensor mask = foreground_mask(image);
    mask_agreement += mask_iou(mask, object_mask(scene));
    correct += classify_shape(mask).shape == scene.shape;
  }
  EXPECT_GE(static_cast<double>(correct) / total, 0.97);
  EXPECT_GE(mask_agreement / total, 0.97) << "the foreground mask recovers the object";
}

// The texture reader, on the foreground mask as the probe finds it: right on
// rendered scenes of every shape, size, position and colour pair.
TEST(ToyMetrics, TextureReaderReadsRenderedScenes) {
  std::mt19937_64 rng(23);
  const int total = 3000;
  int correct = 0;
  std::map<int, int> seen;
  for (int i = 0; i < total; ++i) {
    const Scene scene = random_scene(rng);
    const at::Tensor image = render(scene);
    correct += texture_of(image, foreground_mask(image)) == scene.texture;
    ++seen[static_cast<int>(scene.texture)];
  }
  const double accuracy = static_cast<double>(correct) / total;
  std::printf("texture reader: %d of %d rendered scenes right (%.4f)\n", correct, total, accuracy);
  EXPECT_EQ(seen.size(), texture_names().size());
  EXPECT_GE(accuracy, 0.95);
}

// The reading follows the texture, not the object: the same scene re-rendered
// with another texture reads as that texture.
TEST(ToyMetrics, TextureReaderFollowsTheTextureOfTheSameObject) {
  std::mt19937_64 rng(29);
  const int scenes = 200, textures = static_cast<int>(texture_names().size());
  int changed = 0, right = 0;
  for (int i = 0; i < scenes; ++i) {
    Scene scene = random_scene(rng);
    const Texture original = texture_of(render(scene), object_mask(scene));
    scene.texture = static_cast<Texture>((static_cast<int>(scene.texture) + 1 + i % (textures - 1)) % textures);
    const Texture reread = texture_of(render(scene), object_mask(scene));
    changed += reread != original;
    right += reread == scene.texture;
  }
  EXPECT_GE(changed, scenes * 95 / 100);
  EXPECT_GE(right, scenes * 95 / 100);
}

// Colour noise inside a solid object is not a texture; a pattern with the
// world's weakest contrast (a black object) is.
TEST(ToyMetrics, TextureReaderTellsNoiseFromPattern) {
  Scene scene = scene_of(Shape::Square, 7, 6, Texture::Solid);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(5);
  const at::Tensor mask = object_mask(scene);
  const at::Tensor noisy = render(scene) + 0.1 * at::randn({3, kImageSize, kImageSize}, generator);
  EXPECT_EQ(texture_of(noisy, mask), Texture::Solid);
  for (Texture texture : {Texture::Stripes, Texture::Dots, Texture::Checks}) {
    scene.texture = texture;
    EXPECT_EQ(texture_of(render(scene), mask), texture) << texture_names()[static_cast<size_t>(texture)];
  }
  EXPECT_EQ(texture_of(render(scene), at::zeros({kImageSize, kImageSize}, at::kBool)), Texture::Solid)
      << "an empty mask shows no pattern";
}

TEST(ToyMetrics, StyleDistanceSeparatesStylesAndIgnoresContent) {
  const Scene a = scene_of(Shape::Circle, 0, 2, Texture::Stripes);
  Scene same_style = a;
  same_style.shape = Shape::Square;
  same_style.cx = 10;
  same_style.cy = 22;
  same_style.size = 6;
  Scene other_style = a;
  other_style.foreground = 3;
  other_style.background = 4;
  other_style.texture = Texture::Solid;
  const StyleStats sa = style_stats(render(a));
  EXPECT_LT(style_distance(sa, style_stats(render(same_style))), 0.15);
  EXPECT_GT(style_distance(sa, style_stats(render(other_style))), 1.0);
}

TEST(ToyMetrics, SetScoresTellCopiesWrongShapesAndEmptyTargets) {
  Scene reference = scene_of(Shape::Square, 0, 2, Texture::Solid);
  reference.cx = reference.cy = 10;
  reference.size = 7;
  Scene own = reference;
  own.shape = Shape::Circle;
  own.cx = own.cy = 23;
  own.foreground = 3;
  own.background = 4;
  at::Tensor blank = render(own);
  blank.copy_(blank.narrow(1, 0, 1).narrow(2, 0, 1).expand_as(blank));  // its background only
  // targets: a copy of the reference (asked for a circle), its own circle, nothing (asked for a circle)
  const at::Tensor images = at::stack({render(reference), render(reference), render(own), blank});
  const Scores copy = score_set(images.narrow(0, 0, 2), {Shape::Circle});
  EXPECT_EQ(copy.pairs, 1);
  EXPECT_NEAR(copy.copy_iou, 1.0, 1e-9);
  EXPECT_NEAR(copy.style_distance, 0.0, 1e-6);
  EXPECT_EQ(copy.shape_accuracy, 0.0);
  EXPECT_EQ(copy.object_rate, 1.0);
  const Scores all = score_set(images, {Shape::Circle, Shape::Circle, Shape::Circle});
  EXPECT_EQ(all.pairs, 3);
  EXPECT_NEAR(all.copy_iou, 1.0 / 3, 1e-9) << "the circle does not overlap the square, the empty target copies nothing";
  EXPECT_NEAR(all.shape_accuracy, 1.0 / 3, 1e-9) << "an empty target shows no shape";
  EXPECT_NEAR(all.object_rate, 2.0 / 3, 1e-9);
  EXPECT_GT(all.style_distance, 1.0 / 3) << "the circle and the blank have other colours";
  const Scores rest = score_set(at::stack({images[0], images[2], images[3]}), {Shape::Circle, Shape::Circle});
  const Scores both = pooled({copy, rest});
  EXPECT_EQ(both.pairs, 3);
  EXPECT_NEAR(both.copy_iou, all.copy_iou, 1e-9);
  EXPECT_NEAR(both.style_distance, all.style_distance, 1e-6);
  EXPECT_NEAR(both.object_rate, all.object_rate, 1e-9);
}

TEST(ToyProbe, PromptFollowingReadsEachAttributeOffTheImage) {
  const std::vector<Scene> scenes = probe_scenes(40, 5);
  auto rendered_as = [&](auto change) {
    std::vector<at::Tensor> images;
    for (Scene scene : scenes) {
      change(scene);
      images.push_back(render(scene));
    }
    return at::stack(images);
  };
  const PromptFollowing exact = score_prompt_following(rendered_as([](Scene&) {}), scenes);
  EXPECT_EQ(exact.images, 40);
  EXPECT_EQ(exact.background, 1.0);
  EXPECT_EQ(exact.object_colour, 1.0);
  EXPECT_GE(exact.texture, 0.95);
  EXPECT_EQ(exact.objects, 1.0);
  EXPECT_GE(exact.shape, 0.95);
  EXPECT_EQ(exact.position, 1.0);
  // Another attribute than the prompted one is read as wrong, and only that attribute.
  const int colours = static_cast<int>(colour_names().size());
  auto other_colour = [&](int colour, int avoid) {
    int c = (colour + 1) % colours;
    if (c == avoid) c = (c + 1) % colours;
    return c;
  };
  const PromptFollowing background = score_prompt_following(
      rendered_as([&](Scene& s) { s.background = other_colour(s.background, s.foreground); }), scenes);
  EXPECT_EQ(background.background, 0.0);
  EXPECT_EQ(background.objects, 1.0);
  const PromptFollowing object = score_prompt_following(
      rendered_as([&](Scene& s) { s.foreground = other_colour(s.foreground, s.background); }), scenes);
  EXPECT_LE(object.object_colour, 0.1);
  EXPECT_EQ(object.background, 1.0);
  const PromptFollowing shape = score_prompt_following(
      rendered_as([](Scene& s) { s.shape = static_cast<Shape>((static_cast<int>(s.shape) + 1) % 6); }), scenes);
  EXPECT_LE(shape.shape, 0.1);
  EXPECT_EQ(shape.background, 1.0);
  const PromptFollowing texture = score_prompt_following(
      rendered_as([](Scene& s) { s.texture = static_cast<Texture>((static_cast<int>(s.texture) + 1) % 4); }), scenes);
  EXPECT_LE(texture.texture, 0.1);
  EXPECT_GE(texture.shape, 0.95);
  const PromptFollowing moved =
      score_prompt_following(rendered_as([](Scene& s) { s = in_cell(s, (cell_of(s) + 4) % 9); }), scenes);
  EXPECT_EQ(moved.position, 0.0);
  EXPECT_GE(moved.shape, 0.95);
  const at::Tensor blank = rendered_as([](Scene& s) { s.cx = s.cy = -100; });  // the object off the image
  EXPECT_EQ(score_prompt_following(blank, scenes).objects, 0.0) << "an empty image draws no object";
}

// Classifier-free guidance against the empty prompt: one Euler step from the
// seeds' noise along v + g (v - v_empty), each velocity from its own model
// call (so the empty prompt's pooled vector, zeros, must reach the model).
TEST(ToySampler, GuidanceStepsAlongTheGuidedVelocity) {
  const ToyModel model = load_toy(std::string(UNTWIST_SOURCE_DIR) + "/models/toy/toy.safetensors");
  ToyRequest request;
  request.prompts = {"solid white square on black", "striped red circle"};
  request.seeds = {1, 2};
  request.steps = 1;
  request.guidance = 3;
  const at::Tensor guided = sample_toy(model, request);
  request.guidance = 0;
  const at::Tensor plain = sample_toy(model, request);

  const at::Tensor noise = at::cat({pixel_noise(1, kTokenSide, kTokenSide), pixel_noise(2, kTokenSide, kTokenSide)}, 0);
  const std::vector<double> times = times_for(model, 1);
  const at::Tensor t = at::full({2}, times[0]), pe = toy_position_table(model, 2);
  const at::Tensor v = predict_velocity(model, noise, tokenize_batch(model.text().vocabulary, request.prompts), t, pe);
  const at::Tensor v_empty = predict_velocity(model, noise, tokenize_batch(model.text().vocabulary, {"", ""}), t, pe);
  const double dt = times[1] - times[0];
  const at::Tensor expected = unpack_pixels(noise + dt * (v + 3 * (v - v_empty)), kTokenSide, kTokenSide);
  EXPECT_TRUE(at::allclose(guided, expected, 1e-4, 1e-5)) << (guided - expected).abs().max().item<double>();
  EXPECT_TRUE(at::allclose(plain, unpack_pixels(noise + dt * v, kTokenSide, kTokenSide), 1e-4, 1e-5));
  EXPECT_GT((guided - plain).abs().max().item<double>(), 0.05) << "guidance moves the samples";
  request.guidance = 1;  // v + 1 (v - v_empty) would differ; a scale of 1 or less is no guidance, as for Z-Image
  EXPECT_TRUE(at::equal(sample_toy(model, request), plain));

  SamplingSetup setup;  // the negative rows of a model with a pooled vector need one of their own
  setup.noise = noise;
  setup.conditioning = toy_inputs(model, request.prompts);
  setup.times = times;
  setup.guidance.scale = 3;
  setup.guidance.txt = toy_inputs(model, {"", ""}).txt;
  EXPECT_THROW(sample_dit(*model.dit, setup), InputError);
}

TEST(ToyProbe, DenoisingPredictsTheCleanImageFromTheVelocity) {
  const std::vector<Scene> scenes = probe_scenes(16, 9);
  // An untrained model predicts zero velocity, so from t = 0 its prediction is the scene itself.
  const ToyModel untrained = toy_from_tensors(initial_weights(1));
  const Denoising exact = denoise_from(untrained, scenes, 0.0, 3);
  EXPECT_LT(exact.clean_mse, 1e-10);
  EXPECT_GE(exact.shape, 0.95);
  // ... whatever its prompt names: a misnamed prompt's shape is never the one drawn.
  EXPECT_LE(exact.named_shape, 0.05);
  // The shipped model denoises what it is shown: x0 = x_t - t v recovers the
  // scene from light noise, and the error grows with t.
  const ToyModel shipped = load_toy(std::string(UNTWIST_SOURCE_DIR) + "/models/toy/toy.safetensors");
  const Denoising light = denoise_from(shipped, scenes, 0.3, 3), mid = denoise_from(shipped, scenes, 0.6, 3),
                  pure = denoise_from(shipped, scenes, 1.0, 3);
  EXPECT_LT(light.clean_mse, 0.01);
  EXPECT_GE(light.shape, 0.85);
  EXPECT_LT(light.clean_mse, mid.clean_mse);
  EXPECT_LT(mid.clean_mse, pure.clean_mse);
  EXPECT_LT(denoise_from(untrained, scenes, 0.3, 3).shape, light.shape) << "an untrained model does not denoise";
}

TEST(ToyCommands, DemoEvalAndProbeWriteTheirFilesForAnyToyCheckpoint) {
  const std::string dir = test::scratch_dir();
  write_initial_checkpoint(dir + "/toy.safetensors", 3);

  auto run = test::run_untwist({"demo", "--model", dir + "/toy.safetensors", "--steps", "3", "-o", dir + "/demo"});
  ASSERT_EQ(run.status, 0) << run.output;
  for (const char* file : {"grid.png", "metrics.csv", "rope_bands.png", "attention.png"}) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/demo/" + file)) << file;
  }
  run = test::run_untwist({"toy", "eval", "--model", dir + "/toy.safetensors", "--sets", "1", "--targets", "2",
                           "--steps", "2", "--no-sweep", "-o", dir + "/eval"});
  ASSERT_EQ(run.status, 0) << run.output;
  std::ifstream file(dir + "/eval/eval.json");
  const auto eval = nlohmann::json::parse(file);
  for (const char* key : {"none", "full", "untwisted", "stylealigned", "alignedgen", "untwisted_best"}) {
    SCOPED_TRACE(key);
    ASSERT_TRUE(eval.contains(key));
    for (const char* metric : {"copy_iou", "shape_accuracy", "style_distance", "object_rate"}) {
      EXPECT_TRUE(eval[key][metric].is_number()) << metric;
    }
    EXPECT_EQ(eval[key]["pairs"], 2);
  }
  for (const char* key : {"none", "full 1:1", "full 3:1", "untwisted 1:1", "untwisted 3:1"}) {
    SCOPED_TRACE(key);
    for (const char* reference : {"first", "second"}) {
      EXPECT_TRUE(eval["two_references"][key][reference]["copy_iou"].is_number()) << reference;
      EXPECT_TRUE(eval["two_references"][key][reference]["style_distance"].is_number()) << reference;
    }
  }
  EXPECT_EQ(eval["two_references"]["full 3:1"]["weights"], nlohmann::json({3.0, 1.0}));
  for (const char* size : {"32x32", "48x48"}) {
    for (const char* mode : {"full", "untwisted"}) {
      const auto& reading = eval["reference_size_meter"][size][mode];
      ASSERT_TRUE(reading["same_position"].is_number()) << size << " " << mode;
      EXPECT_GT(reading["reference_total"].get<double>(), reading["neighbourhood"].get<double>()) << size << mode;
      EXPECT_GE(reading["neighbourhood"].get<double>(), reading["same_position"].get<double>()) << size << mode;
    }
  }
  run = test::run_untwist({"toy", "probe", "--model", dir + "/toy.safetensors", "--scenes", "3", "--steps", "2",
                           "--grid", dir + "/probe.png", "--json", dir + "/probe.json"});
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("clean-image MSE"), std::string::npos) << run.output;
  EXPECT_TRUE(std::filesystem::exists(dir + "/probe.png"));
  std::ifstream probe_file(dir + "/probe.json");
  const auto probe = nlohmann::json::parse(probe_file);
  for (const char* share : {"background", "object_colour", "texture", "objects", "shape"}) {
    ASSERT_TRUE(probe[share].is_number()) << share;
    EXPECT_GE(probe[share].get<double>(), 0.0) << share;
    EXPECT_LE(probe[share].get<double>(), 1.0) << share;
  }
  EXPECT_EQ(probe["images"], 3);
  ASSERT_EQ(probe["denoising"].size(), 7u);
  EXPECT_EQ(probe["denoising"][0]["t"], 0.3);
  EXPECT_TRUE(probe["denoising"][0]["clean_mse"].is_number());
  run = test::run_untwist({"demo", "--model", test::golden_dir() + "/ae_tiny.safetensors", "-o", dir + "/bad"});
  EXPECT_EQ(run.status, 1) << run.output;
}

}  // namespace
}  // namespace untwist::toy
