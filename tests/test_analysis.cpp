// The analyses: RoPE band curves against the closed form, and the command
// writing its data and figure.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "analysis/attention_maps.h"
#include "analysis/copy_meter.h"
#include "analysis/rope_bands.h"
#include "share/reference_positions.h"
#include "test_support.h"

namespace untwist {
namespace {

namespace fs = std::filesystem;

TEST(RopeBands, EachPairFollowsCosOfItsFrequencyTimesTheShift) {
  const RopeBandCurves curves = rope_band_curves({16, 56, 56}, 10000, 1, 40);
  ASSERT_EQ(curves.per_pair.size(), 28u);
  for (size_t j = 0; j < 28; ++j) {
    const double frequency = std::pow(10000.0, -2.0 * static_cast<double>(j) / 56.0);
    for (int d = 0; d <= 40; ++d) EXPECT_NEAR(curves.per_pair[j][d], std::cos(frequency * d), 2e-5) << j << " " << d;
  }
  // The paper's point: the high band decorrelates within a few tokens, the low band barely moves.
  EXPECT_LT(curves.high[4], 0.5);
  EXPECT_GT(curves.low[40], 0.99);
  EXPECT_GT(curves.mid[4], curves.high[4]);
}

TEST(RopeBands, AnalyzeRopeWritesCsvAndPng) {
  const std::string dir = test::scratch_dir() + "/analysis";
  const auto run = test::run_untwist({"analyze", "rope", "--axes-dim", "8,12,12", "--max-delta", "16", "-o", dir});
  ASSERT_EQ(run.status, 0) << run.output;
  std::ifstream csv(dir + "/rope_bands.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header, "delta,high,mid,low,pair_0,pair_1,pair_2,pair_3,pair_4,pair_5");
  int rows = 0;
  for (std::string line; std::getline(csv, line);) ++rows;
  EXPECT_EQ(rows, 17);
  std::ifstream png(dir + "/rope_bands.png", std::ios::binary);
  char magic[8] = {};
  png.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_GT(fs::file_size(dir + "/rope_bands.png"), 10000u);
}

TEST(RopeBands, ReadsTheAxesOfAGivenModel) {
  const std::string dir = test::scratch_dir();
  const auto run = test::run_untwist(
      {"analyze", "rope", "--model", test::golden_dir() + "/flux_schnell_tiny.safetensors", "-o", dir});
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("10 pairs"), std::string::npos) << run.output;  // axes [8, 20, 20]
}


// With all keys zero every key gets the same weight: 1/18 per key of a 3x3
// image that sees its 9 own and 9 reference tokens, so the meter's readings
// follow from counting neighbours.
TEST(CopyMeter, UniformAttentionGivesCountedShares) {
  CopyMeter meter(3, 3);
  meter.begin_step(2, 0.5);
  const at::Tensor q = at::randn({2, 1 + 9, 4});  // 1 text token
  meter.observe({"single", 4}, 1, q, at::zeros({2, 10 + 9, 4}), at::Tensor(), ImageSpan{1, 9, 3, 3});
  const auto readings = meter.readings();
  ASSERT_EQ(readings.size(), 1u);
  EXPECT_EQ(readings[0].block, "single.4");
  EXPECT_EQ(readings[0].step, 2);
  EXPECT_NEAR(readings[0].same_position, 1.0 / 19, 1e-6);
  // neighbours per token: corners 4, edges 6, centre 9
  EXPECT_NEAR(readings[0].neighbourhood, (4 * 4 + 4 * 6 + 9) / 9.0 / 19, 1e-6);
  EXPECT_NEAR(readings[0].reference_total, 9.0 / 19, 1e-6);
}

// A reference of weight 2 (log 2 on its logits) counts twice: 18 of 28.
TEST(CopyMeter, KeyBiasWeighsTheReference) {
  CopyMeter meter(3, 3);
  meter.begin_step(0, 1.0);
  const at::Tensor bias = at::cat({at::zeros({10}), at::full({9}, std::log(2.0))});
  meter.observe({"single", 0}, 1, at::randn({2, 10, 4}), at::zeros({2, 19, 4}), bias, ImageSpan{1, 9, 3, 3});
  EXPECT_NEAR(meter.readings().at(0).reference_total, 18.0 / 28, 1e-6);
}

TEST(CopyMeter, KeysMatchingTheQueryAtTheSamePositionReadAsCopying) {
  CopyMeter meter(4, 4);
  meter.begin_step(0, 1.0);
  const at::Tensor q = 3.0 * at::eye(16).unsqueeze(0);                    // [1, 16, 16], orthogonal queries
  const at::Tensor keys = at::cat({at::zeros({1, 16, 16}), 10.0 * q}, 1);  // reference key j aligned with query j
  meter.observe({"double", 0}, 1, q, keys, at::Tensor(), ImageSpan{0, 16, 4, 4});
  const auto reading = meter.readings().at(0);
  EXPECT_GT(reading.same_position, 0.9);
  EXPECT_GE(reading.neighbourhood, reading.same_position);
  EXPECT_GE(reading.reference_total, reading.neighbourhood);
  EXPECT_EQ(meter.to_json()["readings"].size(), 1u);
}

// A 4x4 reference centred on 2x2 targets: target (r, c) sits at reference
// token (r + 1, c + 1); keys aligned there read as copying, and uniform
// attention over the 16 reference tokens puts one 20th at the position.
TEST(CopyMeter, AReferenceOnItsOwnGridCountsByItsPlacedPositions) {
  CopyMeter meter(2, 2, reference_grid_positions({4, 4}, {2, 2}, ReferencePositions::Centre));
  meter.begin_step(0, 1.0);
  const at::Tensor q = 3.0 * at::eye(4).unsqueeze(0);  // [1, 4, 4]
  at::Tensor keys = at::zeros({1, 4 + 16, 4});
  for (int64_t r = 0; r < 2; ++r) {
    for (int64_t c = 0; c < 2; ++c) keys[0][4 + (r + 1) * 4 + (c + 1)].copy_(10.0 * q[0][r * 2 + c]);
  }
  meter.observe({"double", 0}, 1, q, keys, at::Tensor(), ImageSpan{0, 4, 2, 2});
  EXPECT_GT(meter.readings().at(0).same_position, 0.9);

  CopyMeter uniform(2, 2, reference_grid_positions({4, 4}, {2, 2}, ReferencePositions::Centre));
  uniform.observe({"double", 0}, 1, q, at::zeros({1, 20, 4}), at::Tensor(), ImageSpan{0, 4, 2, 2});
  EXPECT_NEAR(uniform.readings().at(0).same_position, 1.0 / 20, 1e-6);
  EXPECT_NEAR(uniform.readings().at(0).neighbourhood, 9.0 / 20, 1e-6);  // every target has 9 reference neighbours
  EXPECT_NEAR(uniform.readings().at(0).reference_total, 16.0 / 20, 1e-6);
}

TEST(AttentionMaps, BandMasksSplitTheSpatialPairsAndLeaveOutTheIndexAxis) {
  const std::vector<int64_t> axes = {4, 12, 12};
  const at::Tensor all = pair_band_mask(axes, PairBand::All);
  const at::Tensor high = pair_band_mask(axes, PairBand::High);
  const at::Tensor low = pair_band_mask(axes, PairBand::Low);
  EXPECT_EQ(all.sum().item<float>(), 28.0f);
  EXPECT_EQ(high.narrow(0, 0, 4).sum().item<float>(), 0.0f) << "index axis left out";
  EXPECT_EQ(high.narrow(0, 4, 12).sum().item<float>(), 4.0f) << "first 2 of 6 pairs";
  EXPECT_EQ(high[4].item<float>(), 1.0f);
  EXPECT_EQ(low.narrow(0, 4, 12).sum().item<float>(), 4.0f) << "last 2 of 6 pairs";
  EXPECT_EQ(low[15].item<float>(), 1.0f);
  EXPECT_EQ((high * low).sum().item<float>(), 0.0f);
}

TEST(AttentionMaps, AReferenceKeyMatchingInHighPairsOnlyLightsUpTheHighMap) {
  const std::vector<int64_t> axes = {4, 12, 12};
  const int64_t h = 3, w = 4, img = h * w, txt = 2, own = txt + img;
  at::Tensor q = at::zeros({1, own, 28});
  at::Tensor keys = at::zeros({1, own + img, 28});
  const at::Tensor high = pair_band_mask(axes, PairBand::High);
  const int64_t token = 1 * w + 2;  // query at (1, 2)
  q[0][txt + token] = high * 2;
  keys[0][own + token] = q[0][txt + token] * 4;  // the reference token at the same position
  AttentionCapture capture(0, {"single", 0}, 1);
  capture.begin_step(0, 1.0);
  capture.observe({"single", 0}, 1, q, keys, at::Tensor(), ImageSpan{txt, img, h, w});
  ASSERT_TRUE(capture.captured());
  const auto maps = attention_maps(capture, axes, h, w, {{1, 2}});
  const at::Tensor ref_high = maps[0].reference[static_cast<size_t>(PairBand::High)];
  const at::Tensor ref_low = maps[0].reference[static_cast<size_t>(PairBand::Low)];
  EXPECT_GT(ref_high[1][2].item<float>(), 0.9f);
  EXPECT_NEAR(ref_low[1][2].item<float>(), 1.0 / (own + img), 1e-6) << "low pairs see nothing: uniform";
  const auto& all = maps[0];
  const double total = all.own[0].sum().item<double>() + all.reference[0].sum().item<double>();
  EXPECT_LE(total, 1.0 + 1e-6);
  EXPECT_GT(total, 1.0 - double(txt) / (own + img) - 1e-6);
}

TEST(AttentionMaps, AnalyzeAttentionWritesDataAndFigure) {
  const std::string golden = test::golden_dir();
  const std::string dir = test::scratch_dir();
  const auto run = test::run_untwist({"analyze", "attention", "--weights", golden + "/share_prompt_ref.safetensors",
                                      "--inputs", golden + "/share_prompt_ref.safetensors", "--ae",
                                      golden + "/ae_tiny.safetensors", "--blocks", "all", "--block", "double:1",
                                      "--points", "0,0;3,2", "-o", dir});
  ASSERT_EQ(run.status, 0) << run.output;
  std::ifstream json_file(dir + "/attention.json");
  const auto json = nlohmann::json::parse(json_file);
  EXPECT_EQ(json["queries"].size(), 2u);
  EXPECT_EQ(json["grid"], nlohmann::json({4, 4}));
  EXPECT_EQ(json["queries"][1]["token"], nlohmann::json({3, 2}));
  EXPECT_GT(fs::file_size(dir + "/attention.png"), 20000u);

  const auto bad = test::run_untwist({"analyze", "attention", "--weights", golden + "/share_prompt_ref.safetensors",
                                      "--inputs", golden + "/share_prompt_ref.safetensors", "--block", "double:1",
                                      "-o", dir});
  EXPECT_EQ(bad.status, 2) << "double:1 is not shared by the default --blocks single: " << bad.output;
}

}  // namespace
}  // namespace untwist
