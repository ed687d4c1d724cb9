// RoPE, timestep embedding and the sampling schedule against the reference.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "model/rope.h"
#include "model/flux1/packing.h"
#include "model/flow_schedule.h"
#include "test_support.h"

namespace untwist {
namespace {

using test::relative_error;

TEST(RopeGolden, EveryRopeAndScheduleFileIsReproduced) {
  const auto files = test::golden_files_of_kind("rope-and-schedules");
  ASSERT_GE(files.size(), 1u);
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    const auto golden = SafetensorsFile::open(path);
    const auto axes_json = nlohmann::json::parse(golden->metadata().at("axes_dim"));
    const std::vector<int64_t> axes_dim = axes_json.get<std::vector<int64_t>>();
    const double theta = std::stod(golden->metadata().at("theta"));

    const at::Tensor pe = rope_table(golden->tensor("in.ids"), axes_dim, theta);
    EXPECT_LE(relative_error(pe, golden->tensor("out.pe")), test::kForwardTolerance);
    EXPECT_LE(relative_error(apply_rope(golden->tensor("in.q"), pe), golden->tensor("out.q_rot")),
              test::kForwardTolerance);
    EXPECT_LE(relative_error(apply_rope(golden->tensor("in.k"), pe), golden->tensor("out.k_rot")),
              test::kForwardTolerance);
    EXPECT_LE(relative_error(timestep_embedding(golden->tensor("in.t"), 256),
                             golden->tensor("out.timestep_embedding_256")),
              test::kForwardTolerance);

    int schedules = 0;
    for (const auto& entry : golden->entries()) {
      int steps = 0, tokens = 0;
      if (std::sscanf(entry.name.c_str(), "out.schedule_%d_%d", &steps, &tokens) != 2) continue;
      SCOPED_TRACE(entry.name);
      const std::vector<double> times = flux_schedule(steps, tokens, /*shift=*/true);
      const at::Tensor expected = golden->tensor(entry.name);
      ASSERT_EQ(expected.numel(), static_cast<int64_t>(times.size()));
      EXPECT_LE(relative_error(at::tensor(times), expected), 1e-6);
      ++schedules;
    }
    EXPECT_GE(schedules, 1);
  }
}

TEST(Rope, RotationPreservesNormsAndIdentityAtPositionZero) {
  const at::Tensor x = at::randn({1, 2, 5, 16});
  const at::Tensor zero_ids = at::zeros({1, 5, 3});
  EXPECT_LE(relative_error(apply_rope(x, rope_table(zero_ids, {4, 6, 6}, 10000)), x), 1e-7);
  const at::Tensor ids = at::randint(0, 50, {1, 5, 3}).to(at::kFloat);
  const at::Tensor rotated = apply_rope(x, rope_table(ids, {4, 6, 6}, 10000));
  EXPECT_LE(relative_error(rotated.norm(2, -1), x.norm(2, -1)), 1e-6);
}

// Outside autograd apply_rope rotates in one pass over the rows; it must
// give what the tensor formula (the autograd path) gives, for the strided
// rows a fused qkv projection leaves, in bfloat16 too, and with one table
// for a whole batch.
TEST(Rope, OnePassEqualsTheFormulaForStridedRowsBFloat16AndABatchTable) {
  const at::Tensor qkv = at::randn({2, 7, 3, 4, 16});  // [B, L, 3, H, D]
  const at::Tensor ids = at::randint(0, 50, {2, 7, 3}).to(at::kFloat);
  const auto formula = [](const at::Tensor& x, const at::Tensor& pe) {
    return apply_rope(x.detach().clone().requires_grad_(), pe).detach();
  };
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const at::Tensor q = qkv.to(dtype).permute({2, 0, 3, 1, 4}).select(0, 0);  // [B, H, L, D], rows strided
    ASSERT_FALSE(q.is_contiguous());
    for (const at::Tensor& pe : {rope_table(ids, {4, 6, 6}, 10000), rope_table(ids.narrow(0, 0, 1), {4, 6, 6}, 10000)}) {
      const at::Tensor rotated = apply_rope(q, pe);
      EXPECT_EQ(rotated.scalar_type(), dtype);
      EXPECT_LE(relative_error(rotated.to(at::kDouble), formula(q, pe).to(at::kDouble)), 1e-7);
      EXPECT_GT(relative_error(rotated.to(at::kDouble), q.to(at::kDouble)), 0.1) << "the positions must turn it";
    }
  }
}

TEST(Schedule, UnshiftedIsLinearAndShiftedStaysInOrder) {
  const auto linear = flux_schedule(4, 256, false);
  EXPECT_EQ(linear, (std::vector<double>{1.0, 0.75, 0.5, 0.25, 0.0}));
  const auto shifted = flux_schedule(28, 4096, true);
  EXPECT_DOUBLE_EQ(shifted.front(), 1.0);
  EXPECT_DOUBLE_EQ(shifted.back(), 0.0);
  for (size_t i = 1; i < shifted.size(); ++i) EXPECT_LT(shifted[i], shifted[i - 1]);
  EXPECT_GT(shifted[14], 0.5) << "the shift spends more steps at high noise";
}

TEST(Packing, UnpackInvertsPackAndIdsFollowTheGrid) {
  const at::Tensor latents = at::randn({2, 4, 6, 10});
  const at::Tensor packed = pack_latents(latents);
  EXPECT_EQ(packed.sizes().vec(), (std::vector<int64_t>{2, 15, 16}));
  EXPECT_TRUE(at::equal(unpack_latents(packed, 3, 5), latents));
  // token (row 1, col 2) holds the 2x2 patch at latent rows 2-3, cols 4-5, channel-major
  EXPECT_TRUE(at::equal(packed[0][1 * 5 + 2].reshape({4, 2, 2}), latents[0].narrow(1, 2, 2).narrow(2, 4, 2)));
  const at::Tensor ids = image_position_ids(2, 3, 5);
  const RopeLayout rope{{2, 2, 2}, {AxisRole::Index, AxisRole::Row, AxisRole::Column}, 10000};
  EXPECT_EQ(token_grid(ids, rope), (std::pair<int64_t, int64_t>{3, 5}));
  EXPECT_EQ(ids[1][7][1].item<float>(), 1.0f);
  EXPECT_EQ(ids[1][7][2].item<float>(), 2.0f);
}

}  // namespace
}  // namespace untwist
