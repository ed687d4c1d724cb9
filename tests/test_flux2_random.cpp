// Random FLUX.2 weights (for the benchmarks) have exactly the names and shapes
// of the golden reference files for the configuration read from those files.
#include <gtest/gtest.h>

#include "io/weights.h"
#include "model/flux2/flux2_config.h"
#include "model/flux2/flux2_random.h"
#include "test_support.h"

namespace untwist {
namespace {

// The golden file's tensors other than the runner's inputs and outputs.
std::map<std::string, std::vector<int64_t>> model_shapes(const Weights& weights) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const std::string& name : weights.names()) {
    if (name.rfind("in.", 0) != 0 && name.rfind("out.", 0) != 0) shapes[name] = weights.shape(name);
  }
  return shapes;
}

TEST(Flux2Random, NamesAndShapesAreTheReferenceFiles) {
  for (const char* name : {"flux2_dev_tiny", "flux2_klein_tiny"}) {
    SCOPED_TRACE(name);
    const Weights golden = Weights::load(test::golden_dir() + "/" + name + ".safetensors");
    const Flux2Config config = detect_flux2_config(golden);
    std::map<std::string, std::vector<int64_t>> random;
    for (const auto& [tensor_name, tensor] : random_flux2_weights(config, 0)) random[tensor_name] = tensor.sizes().vec();
    EXPECT_EQ(random, model_shapes(golden));
  }
}

}  // namespace
}  // namespace untwist
