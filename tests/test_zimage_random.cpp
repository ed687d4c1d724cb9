// Random Z-Image weights (for the benchmarks) have exactly the names and
// shapes of the golden reference file for the configuration read from it.
#include <gtest/gtest.h>

#include "io/weights.h"
#include "model/zimage/zimage_config.h"
#include "model/zimage/zimage_random.h"
#include "test_support.h"

namespace untwist {
namespace {

TEST(ZImageRandom, NamesAndShapesAreTheReferenceFile) {
  const Weights golden = Weights::load(test::golden_dir() + "/zimage_turbo_tiny.safetensors");
  std::map<std::string, std::vector<int64_t>> expected, random;
  for (const std::string& name : golden.names()) {
    if (name.rfind("in.", 0) != 0 && name.rfind("out.", 0) != 0) expected[name] = golden.shape(name);
  }
  const ZImageConfig config = detect_zimage_config(golden, golden.metadata_config());
  for (const auto& [name, tensor] : random_zimage_weights(config, 0)) random[name] = tensor.sizes().vec();
  EXPECT_EQ(random, expected);
}

}  // namespace
}  // namespace untwist
