// Native bfloat16 matmul detection against the kernel's own reading of the
// CPU (/proc/cpuinfo flags avx512_bf16, amx_bf16), and --dtype auto choosing
// from it.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "io/safetensors.h"
#include "test_support.h"
#include "util/cpu_features.h"

namespace untwist {
namespace {

// The first processor's flags; empty when /proc/cpuinfo has none (not Linux on x86).
std::set<std::string> cpuinfo_flags() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string flag; words >> flag;) flags.insert(flag);
    return flags;
  }
  return {};
}

TEST(CpuFeatures, Bf16DetectionAgreesWithTheKernel) {
  const std::set<std::string> flags = cpuinfo_flags();
  if (flags.empty()) GTEST_SKIP() << "no x86 flags in /proc/cpuinfo";
  const Bf16Support& support = bf16_support();
  // The kernel lists a feature only when the CPU has it and the kernel saves its state.
  EXPECT_EQ(support.avx512_bf16, flags.count("avx512_bf16") == 1);
  EXPECT_EQ(support.amx_bf16, flags.count("amx_bf16") == 1);
  EXPECT_EQ(support.native(), support.avx512_bf16 || support.amx_bf16);
  std::printf("bfloat16 matmul: %s\n", describe(support).c_str());
}

TEST(CpuFeatures, DescriptionNamesTheUnits) {
  EXPECT_EQ(describe(Bf16Support{}), "not native (no AVX512-BF16 or AMX-BF16)");
  EXPECT_EQ(describe(Bf16Support{true, false}), "native (AVX512-BF16)");
  EXPECT_EQ(describe(Bf16Support{true, true}), "native (AVX512-BF16, AMX-BF16)");
  EXPECT_EQ(describe(Bf16Support{false, true}), "native (AMX-BF16)");
}

// `untwist dit --dtype auto` computes exactly what the dtype it should pick
// computes: bfloat16 where the matmul is native, float32 elsewhere.
TEST(CpuFeatures, DtypeAutoPicksBfloat16OnlyWhereNative) {
  const std::string golden = test::golden_dir() + "/flux_dev_tiny.safetensors";
  const std::string expected_dtype = bf16_support().native() ? "bfloat16" : "float32";
  std::map<std::string, at::Tensor> pred;
  for (const std::string& dtype : {std::string("auto"), expected_dtype}) {
    const std::string output = test::scratch_dir() + "/out.safetensors";
    const auto run = test::run_untwist({"dit", "--weights", golden, "--inputs", golden, "--output", output,
                                        "--dtype", dtype, "--threads", "1"});
    ASSERT_EQ(run.status, 0) << run.output;
    pred[dtype] = SafetensorsFile::open(output)->tensor("out.pred");
  }
  EXPECT_TRUE(at::equal(pred["auto"], pred[expected_dtype])) << "auto ran as " << expected_dtype;
  const double error = test::relative_error(pred["auto"], SafetensorsFile::open(golden)->tensor("out.pred"));
  if (bf16_support().native()) {
    EXPECT_GT(error, test::kForwardTolerance) << "bfloat16 rounds";
  } else {
    EXPECT_LE(error, test::kForwardTolerance);
  }
}

}  // namespace
}  // namespace untwist
