// The analyses: RoPE band curves against the closed form, and the command
// writing its data and figure.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

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
