// The analyses: RoPE band curves against the closed form, and the command
// writing its data and figure.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "analysis/copy_meter.h"
#include "analysis/rope_bands.h"
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

}  // namespace
}  // namespace untwist

namespace untwist {
namespace {

// With all keys zero every key gets the same weight: 1/18 per key of a 3x3
// image that sees its 9 own and 9 reference tokens, so the meter's readings
// follow from counting neighbours.
TEST(CopyMeter, UniformAttentionGivesCountedShares) {
  CopyMeter meter(3, 3);
  meter.begin_step(2, 0.5);
  const at::Tensor q = at::randn({2, 1 + 9, 4});  // 1 text token
  meter.observe({BlockKind::Single, 4}, 1, q, at::zeros({2, 10 + 9, 4}), 1);
  const auto readings = meter.readings();
  ASSERT_EQ(readings.size(), 1u);
  EXPECT_EQ(readings[0].block, "single.4");
  EXPECT_EQ(readings[0].step, 2);
  EXPECT_NEAR(readings[0].same_position, 1.0 / 19, 1e-6);
  // neighbours per token: corners 4, edges 6, centre 9
  EXPECT_NEAR(readings[0].neighbourhood, (4 * 4 + 4 * 6 + 9) / 9.0 / 19, 1e-6);
  EXPECT_NEAR(readings[0].reference_total, 9.0 / 19, 1e-6);
}

TEST(CopyMeter, KeysMatchingTheQueryAtTheSamePositionReadAsCopying) {
  CopyMeter meter(4, 4);
  meter.begin_step(0, 1.0);
  const at::Tensor q = at::randn({1, 16, 8});
  const at::Tensor keys = at::cat({at::zeros({1, 16, 8}), 10.0 * q}, 1);  // reference key j aligned with query j
  meter.observe({BlockKind::Double, 0}, 1, q, keys, 0);
  const auto reading = meter.readings().at(0);
  EXPECT_GT(reading.same_position, 0.9);
  EXPECT_GE(reading.neighbourhood, reading.same_position);
  EXPECT_GE(reading.reference_total, reading.neighbourhood);
  EXPECT_EQ(meter.to_json()["readings"].size(), 1u);
}

}  // namespace
}  // namespace untwist
