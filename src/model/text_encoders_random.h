// Random T5 v1.1, CLIP text and Qwen3 weights under HuggingFace names, for tests and
// benchmarks of shapes (up to T5-XXL, CLIP-L and Qwen3-4B) no file at hand has.
#pragma once
#include <cstdint>

#include "io/safetensors.h"
#include "model/clip_text.h"
#include "model/qwen3_text.h"
#include "model/t5_encoder.h"

namespace untwist {

// Matrices ~ N(0, 0.1^2), norm scales 1, biases 0; reproducible per seed.
NamedTensors random_t5_weights(const T5Config& config, uint64_t seed);
NamedTensors random_clip_weights(const ClipTextConfig& config, uint64_t seed);
// Under HuggingFace's "model." names.
NamedTensors random_qwen3_weights(const Qwen3Config& config, uint64_t seed);

}  // namespace untwist
