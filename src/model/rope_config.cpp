#include "model/rope_config.h"

#include <nlohmann/json.hpp>
#include <numeric>

#include "io/weights.h"
#include "util/errors.h"

namespace untwist {

namespace {

// axes_dim and theta from the file's "params" metadata, when it has them.
bool read_rope_params(const Weights& weights, RopeParams* params_out) {
  const auto it = weights.metadata().find("params");
  if (it == weights.metadata().end()) return false;
  const nlohmann::json params = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  if (!params.is_object()) fail_file(weights.source(), "metadata 'params' is not a JSON object");
  const auto axes = params.find("axes_dim");
  if (axes == params.end()) return false;
  if (!axes->is_array()) fail_file(weights.source(), "metadata params.axes_dim is not an array of integers");
  params_out->axes_dim.clear();
  for (const auto& value : *axes) {
    if (!value.is_number_unsigned()) fail_file(weights.source(), "metadata params.axes_dim holds a non-integer");
    params_out->axes_dim.push_back(value.get<int64_t>());
  }
  const auto theta = params.find("theta");
  if (theta != params.end()) {
    if (!theta->is_number()) fail_file(weights.source(), "metadata params.theta is not a number");
    params_out->theta = theta->get<double>();
  }
  return true;
}

int64_t sum(const std::vector<int64_t>& values) { return std::accumulate(values.begin(), values.end(), int64_t{0}); }

}  // namespace

RopeParams detect_rope_params(const Weights& weights, const RopeOverride& rope, int64_t head_dim,
                              const RopeParams& defaults, const std::string& family) {
  RopeParams params = defaults;
  const bool from_file = read_rope_params(weights, &params);
  if (rope.axes_dim) {
    params.axes_dim = *rope.axes_dim;
  } else if (!from_file) {
    if (head_dim != sum(defaults.axes_dim)) {
      fail_file(weights.source(), "head dim is " + std::to_string(head_dim) + ", not " + family + "'s " +
                                      std::to_string(sum(defaults.axes_dim)) +
                                      ", and the file does not say its RoPE axes: pass --axes-dim (summing to " +
                                      std::to_string(head_dim) + ")");
    }
    params = defaults;
  }
  if (rope.theta) params.theta = *rope.theta;

  if (sum(params.axes_dim) != head_dim) {
    fail_file(weights.source(), "RoPE axes_dim " + shape_string(params.axes_dim) + " sum to " +
                                    std::to_string(sum(params.axes_dim)) + ", but the head dim is " +
                                    std::to_string(head_dim));
  }
  for (int64_t axis : params.axes_dim) {
    if (axis <= 0 || axis % 2 != 0) {
      fail_file(weights.source(), "RoPE axes_dim " + shape_string(params.axes_dim) + " must be positive and even");
    }
  }
  if (!(params.theta > 0)) fail_file(weights.source(), "RoPE theta must be positive");
  return params;
}

int64_t dim_of(const Weights& weights, const std::string& name, int64_t dim) {
  const at::Tensor tensor = weights.get(name);
  if (tensor.dim() <= dim) {
    fail_file(weights.source(), "tensor '" + name + "' has shape " + shape_string(tensor.sizes().vec()) +
                                    ", expected at least " + std::to_string(dim + 1) + " dimensions");
  }
  return tensor.size(dim);
}

}  // namespace untwist
