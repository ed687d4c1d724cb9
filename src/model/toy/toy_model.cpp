#include "model/toy/toy_model.h"

#include <nlohmann/json.hpp>

#include "model/flux1/flux_config.h"
#include "model/toy/pixel_latents.h"
#include "model/toy/toy_text.h"
#include "util/errors.h"

namespace untwist::toy {

bool is_toy_checkpoint(const Weights& weights) {
  const auto kind = weights.metadata().find("kind");
  if (kind != weights.metadata().end() && kind->second == kCheckpointKind) return true;
  return weights.has(kTextEmbedding) && weights.has(kTextPrevious);
}

ToyTransformer::ToyTransformer(const Weights& weights, FluxConfig config, ToyText text, int64_t image_size,
                               at::ScalarType compute_dtype, at::Device device)
    : FluxModel(weights, std::move(config), compute_dtype, device), text_(std::move(text)), image_size_(image_size) {}

namespace {

std::unique_ptr<ToyTransformer> toy_transformer(const Weights& weights, const FluxConfig& config,
                                                std::vector<std::string> vocabulary, int64_t image_size,
                                                at::ScalarType compute_dtype, at::Device device) {
  if (vocabulary.empty() || vocabulary[kPad] != "<pad>") {
    fail_file(weights.source(), "the toy vocabulary does not start with \"<pad>\"");
  }
  if (image_size <= 0 || image_size % kPixelPatch != 0) {
    fail_file(weights.source(), "the toy image size " + std::to_string(image_size) + " is not a positive multiple of " +
                                    std::to_string(kPixelPatch));
  }
  const std::vector<int64_t> shape = {static_cast<int64_t>(vocabulary.size()), config.context_in_dim};
  ToyText text{std::move(vocabulary), {weights.get(kTextEmbedding, shape), weights.get(kTextPrevious, shape)}};
  return std::make_unique<ToyTransformer>(weights, config, std::move(text), image_size, compute_dtype, device);
}

// The "world" metadata: {"image_size": N, "vocabulary": ["<pad>", ...], ...}.
std::pair<std::vector<std::string>, int64_t> world_of(const Weights& weights) {
  const auto world = weights.metadata().find("world");
  if (world == weights.metadata().end()) {
    fail_file(weights.source(), "toy checkpoint without its 'world' metadata (image size and vocabulary)");
  }
  const auto json = nlohmann::json::parse(world->second, nullptr, false);
  const auto size = json.is_object() ? json.find("image_size") : json.end();
  const auto words = json.is_object() ? json.find("vocabulary") : json.end();
  if (size == json.end() || !size->is_number_unsigned() || words == json.end() || !words->is_array()) {
    fail_file(weights.source(), "toy 'world' metadata without an integer image_size and a vocabulary array");
  }
  std::vector<std::string> vocabulary;
  for (const auto& word : *words) {
    if (!word.is_string()) fail_file(weights.source(), "toy vocabulary holds a non-string");
    vocabulary.push_back(word.get<std::string>());
  }
  return {vocabulary, size->get<int64_t>()};
}

}  // namespace

std::unique_ptr<ToyTransformer> load_toy_transformer(const Weights& weights, const RopeOverride& rope,
                                                     at::ScalarType compute_dtype, at::Device device) {
  for (const char* name : {kTextEmbedding, kTextPrevious}) {
    if (!weights.has(name)) {
      fail_file(weights.source(),
                std::string("not a toy checkpoint of this version: tensor '") + name + "' is missing");
    }
  }
  auto [vocabulary, image_size] = world_of(weights);
  return toy_transformer(weights, detect_flux_config(weights, rope), std::move(vocabulary), image_size, compute_dtype,
                         device);
}

ToyModel load_toy(const std::string& path) { return {load_toy_transformer(Weights::load(path))}; }

ToyModel toy_from_weights(const Weights& weights, const FluxConfig& config, std::vector<std::string> vocabulary,
                          int64_t image_size) {
  return {toy_transformer(weights, config, std::move(vocabulary), image_size, at::kFloat, at::kCPU)};
}

at::Tensor toy_position_table(const ToyModel& model, int64_t batch) {
  const int64_t side = model.dit->default_image_size() / kPixelPatch;
  DitInputs ids;
  ids.txt_ids = model.dit->text_ids(batch, kMaxWords);
  ids.img_ids = model.dit->image_ids(batch, side, side);
  return model.dit->position_table(ids);
}

at::Tensor predict_velocity(const ToyModel& model, const at::Tensor& xt, const at::Tensor& ids, const at::Tensor& t,
                            const at::Tensor& pe) {
  const TextConditioning text = encode_text(model.text().embedding, ids);
  const int64_t side = model.dit->default_image_size() / kPixelPatch;
  DitInputs inputs;
  inputs.img = xt;
  inputs.img_ids = model.dit->image_ids(xt.size(0), side, side);
  inputs.txt = text.txt;
  inputs.txt_ids = model.dit->text_ids(xt.size(0), kMaxWords);
  inputs.y = text.y;
  inputs.timesteps = t;
  inputs.guidance = at::ones({xt.size(0)});
  return model.dit->forward(inputs, pe).to(at::kFloat);
}

}  // namespace untwist::toy
