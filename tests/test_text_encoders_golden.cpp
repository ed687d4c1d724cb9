// The T5 and CLIP text encoders against the reference implementations,
// through `untwist te`, for every t5-encoder and clip-text golden file.
#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "model/t5_encoder.h"
#include "test_support.h"

namespace untwist {
namespace {

void expect_runner_reproduces(const std::string& kind, const std::string& golden_kind) {
  const auto files = test::golden_files_of_kind(golden_kind);
  ASSERT_GE(files.size(), 1u) << "expected " << golden_kind << " golden files in " << test::golden_dir();
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    const std::string output = test::scratch_dir() + "/out.safetensors";
    const auto run = test::run_untwist({"te", "--kind", kind, "--weights", path, "--inputs", path, "--output", output});
    ASSERT_EQ(run.status, 0) << run.output;
    const auto golden = SafetensorsFile::open(path);
    const auto result = SafetensorsFile::open(output);
    int compared = 0;
    for (const auto& entry : golden->entries()) {
      if (entry.name.rfind("out.", 0) != 0 || entry.name.find("relative_position_bucket") != std::string::npos) continue;
      SCOPED_TRACE(entry.name);
      ASSERT_TRUE(result->contains(entry.name));
      const at::Tensor expected = golden->tensor(entry.name), actual = result->tensor(entry.name);
      if (at::isFloatingType(expected.scalar_type())) {
        EXPECT_LE(test::relative_error(actual, expected), test::kForwardTolerance);
      } else {
        EXPECT_TRUE(at::equal(actual, expected));
      }
      ++compared;
    }
    EXPECT_GE(compared, 1);
  }
}

TEST(TextEncodersGolden, T5RunnerReproducesEveryFile) { expect_runner_reproduces("t5", "t5-encoder"); }

TEST(TextEncodersGolden, ClipRunnerReproducesEveryFile) { expect_runner_reproduces("clip", "clip-text"); }

TEST(TextEncodersGolden, T5RelativePositionBucketsMatchPastTheMaximumDistance) {
  const auto golden = SafetensorsFile::open(test::golden_dir() + "/t5_encoder_tiny.safetensors");
  const at::Tensor expected = golden->tensor("out.relative_position_bucket_long");  // [160, 160]
  const at::Tensor positions = at::arange(expected.size(0), at::kLong);
  const at::Tensor relative = positions.unsqueeze(0) - positions.unsqueeze(1);
  EXPECT_TRUE(at::equal(t5_relative_position_bucket(relative, 32, 128), expected));
}

TEST(TextEncodersGolden, WrongKindOfFileIsNamed) {
  const std::string output = test::scratch_dir() + "/out.safetensors";
  const std::string clip = test::golden_dir() + "/clip_text_tiny.safetensors";
  const auto run = test::run_untwist({"te", "--kind", "t5", "--weights", clip, "--inputs", clip, "--output", output});
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("not a T5 encoder"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace untwist
