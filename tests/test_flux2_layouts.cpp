// FLUX.2 transformer checkpoints in the layouts users have: the golden
// reference (BFL) weights rewritten in the diffusers layout
// (Flux2Transformer2DModel, as diffusers' convert_flux2_to_diffusers.py
// writes it), with the ComfyUI prefix, and as a sharded diffusers folder, all
// load back to exactly the reference tensors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "io/flux2_diffusers_layout.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "io/component_files.h"
#include "test_support.h"
#include "util/errors.h"

namespace untwist {
namespace {

namespace fs = std::filesystem;

const char* const kGoldenFiles[] = {"flux2_dev_tiny", "flux2_klein_tiny"};

std::string golden(const std::string& name) { return test::golden_dir() + "/" + name + ".safetensors"; }

// The golden file's model.* tensors under their reference names.
TensorMap reference_tensors(const std::string& name) {
  const auto file = SafetensorsFile::open(golden(name));
  TensorMap tensors;
  for (const auto& entry : file->entries()) {
    if (entry.name.rfind("model.", 0) == 0) tensors.emplace(entry.name.substr(6), file->tensor(entry.name));
  }
  return tensors;
}

// Every parameter name of diffusers' Flux2Transformer2DModel (bias=False
// throughout, LayerNorms without affine parameters), written from the
// module's structure, independently of the mapping above.
std::set<std::string> flux2_transformer_parameters(int double_blocks, int single_blocks, bool guidance) {
  std::set<std::string> names = {"x_embedder.weight",
                                 "context_embedder.weight",
                                 "time_guidance_embed.timestep_embedder.linear_1.weight",
                                 "time_guidance_embed.timestep_embedder.linear_2.weight",
                                 "double_stream_modulation_img.linear.weight",
                                 "double_stream_modulation_txt.linear.weight",
                                 "single_stream_modulation.linear.weight",
                                 "norm_out.linear.weight",
                                 "proj_out.weight"};
  if (guidance) {
    names.insert("time_guidance_embed.guidance_embedder.linear_1.weight");
    names.insert("time_guidance_embed.guidance_embedder.linear_2.weight");
  }
  for (int n = 0; n < double_blocks; ++n) {
    for (const char* part : {"attn.to_q", "attn.to_k", "attn.to_v", "attn.norm_q", "attn.norm_k", "attn.to_out.0",
                             "attn.norm_added_q", "attn.norm_added_k", "attn.add_q_proj", "attn.add_k_proj",
                             "attn.add_v_proj", "attn.to_add_out", "ff.linear_in", "ff.linear_out",
                             "ff_context.linear_in", "ff_context.linear_out"}) {
      names.insert("transformer_blocks." + std::to_string(n) + "." + part + ".weight");
    }
  }
  for (int n = 0; n < single_blocks; ++n) {
    for (const char* part : {"attn.to_qkv_mlp_proj", "attn.norm_q", "attn.norm_k", "attn.to_out"}) {
      names.insert("single_transformer_blocks." + std::to_string(n) + "." + part + ".weight");
    }
  }
  return names;
}

NamedTensors named(const TensorMap& tensors, const std::string& prefix = "") {
  NamedTensors list;
  for (const auto& [name, tensor] : tensors) list.emplace_back(prefix + name, tensor);
  return list;
}

void expect_exactly(const TensorMap& expected, const Weights& loaded) {
  std::vector<std::string> expected_names;
  for (const auto& entry : expected) expected_names.push_back(entry.first);
  EXPECT_EQ(loaded.names(), expected_names);
  for (const auto& [name, tensor] : expected) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(loaded.has(name));
    const at::Tensor got = loaded.get(name);
    EXPECT_EQ(got.scalar_type(), tensor.scalar_type());
    EXPECT_TRUE(at::equal(got, tensor));
  }
}

TEST(Flux2Layouts, TheTestsDiffusersNamesAreFlux2Transformer2DModelsParameters) {
  for (const char* file : kGoldenFiles) {
    SCOPED_TRACE(file);
    const TensorMap reference = reference_tensors(file);
    std::set<std::string> names;
    for (const auto& entry : test::flux2_to_diffusers(reference)) names.insert(entry.first);
    EXPECT_EQ(names, flux2_transformer_parameters(static_cast<int>(indices_under(reference, "double_blocks.").size()),
                                                  static_cast<int>(indices_under(reference, "single_blocks.").size()),
                                                  reference.count("guidance_in.in_layer.weight") != 0));
  }
}

TEST(Flux2Layouts, DiffusersFileLoadsAsTheReferenceTensors) {
  for (const char* file : kGoldenFiles) {
    SCOPED_TRACE(file);
    const TensorMap reference = reference_tensors(file);
    const std::string path = test::scratch_dir() + "/diffusion_pytorch_model.safetensors";
    write_safetensors(path, named(test::flux2_to_diffusers(reference)));
    const Weights loaded = Weights::load(path);
    EXPECT_EQ(loaded.layout(), WeightLayout::Diffusers);
    expect_exactly(reference, loaded);
  }
}

TEST(Flux2Layouts, DiffusersNamesUnderTheTransformerPrefixLoadToo) {
  const TensorMap reference = reference_tensors("flux2_klein_tiny");
  const std::string path = test::scratch_dir() + "/prefixed.safetensors";
  write_safetensors(path, named(test::flux2_to_diffusers(reference), "transformer."));
  expect_exactly(reference, Weights::load(path));
}

TEST(Flux2Layouts, ComfyUiPrefixedFileLoadsAsTheReferenceTensors) {
  for (const char* file : kGoldenFiles) {
    SCOPED_TRACE(file);
    const TensorMap reference = reference_tensors(file);
    const std::string path = test::scratch_dir() + "/comfy.safetensors";
    write_safetensors(path, named(reference, "model.diffusion_model."));
    const Weights loaded = Weights::load(path);
    EXPECT_EQ(loaded.layout(), WeightLayout::Reference);
    expect_exactly(reference, loaded);
  }
}

TEST(Flux2Layouts, ShardedDiffusersFolderLoadsAsTheReferenceTensors) {
  for (const char* file : kGoldenFiles) {
    SCOPED_TRACE(file);
    const TensorMap reference = reference_tensors(file);
    const std::string folder = test::scratch_dir() + "/transformer";
    fs::create_directories(folder);
    const size_t shards = 3;
    std::vector<NamedTensors> parts(shards);
    nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
    const auto shard_name = [](size_t shard) {
      return "diffusion_pytorch_model-0000" + std::to_string(shard + 1) + "-of-00003.safetensors";
    };
    size_t n = 0;
    for (const auto& [name, tensor] : test::flux2_to_diffusers(reference)) {
      const size_t shard = n++ % shards;
      parts[shard].emplace_back(name, tensor);
      index["weight_map"][name] = shard_name(shard);
    }
    for (size_t s = 0; s < shards; ++s) write_safetensors(folder + "/" + shard_name(s), parts[s]);
    std::ofstream(folder + "/diffusion_pytorch_model.safetensors.index.json") << index.dump(2);
    const Weights loaded = load_component(folder);
    EXPECT_EQ(loaded.layout(), WeightLayout::Diffusers);
    expect_exactly(reference, loaded);
  }
}

// Encoded tensors (float8, Q8_0 blocks) are joined and swapped as they are
// stored: the result is the encoding of the reference tensor, byte for byte.
TEST(Flux2Layouts, EncodedTensorsStayEncoded) {
  for (const char* file : kGoldenFiles) {
    SCOPED_TRACE(file);
    const TensorMap reference = reference_tensors(file);
    const auto encoding_of = [](const at::Tensor& tensor) {
      return tensor.dim() == 2 && tensor.size(1) % encoding_block_values(Encoding::Q8_0) == 0 ? Encoding::Q8_0
                                                                                               : Encoding::F8_E4M3;
    };
    std::map<std::string, StoredTensor> diffusers;
    for (const auto& [name, tensor] : test::flux2_to_diffusers(reference)) {
      diffusers.emplace(name, StoredTensor::encode(tensor, encoding_of(tensor)));
    }
    const auto converted = convert_diffusers_flux2(diffusers, "encoded");
    ASSERT_EQ(converted.size(), reference.size());
    for (const auto& [name, tensor] : reference) {
      SCOPED_TRACE(name);
      ASSERT_TRUE(converted.count(name));
      const StoredTensor& got = converted.at(name);
      ASSERT_TRUE(got.encoded());
      EXPECT_EQ(got.encoding(), encoding_of(tensor));
      EXPECT_EQ(got.sizes(), tensor.sizes().vec());
      EXPECT_TRUE(at::equal(got.as_bytes(), StoredTensor::encode(tensor, encoding_of(tensor)).as_bytes()));
    }
  }
}

TEST(Flux2Layouts, PartsOfDifferentEncodingsAreJoinedDecoded) {
  const TensorMap reference = reference_tensors("flux2_klein_tiny");
  std::map<std::string, StoredTensor> diffusers;
  for (const auto& [name, tensor] : test::flux2_to_diffusers(reference)) diffusers.emplace(name, StoredTensor(tensor));
  const std::string q = "transformer_blocks.0.attn.to_q.weight";
  const std::string k = "transformer_blocks.0.attn.to_k.weight";
  diffusers[k] = StoredTensor::encode(diffusers.at(k).decoded(), Encoding::Q8_0);
  const StoredTensor joined = convert_diffusers_flux2(diffusers, "mixed").at("double_blocks.0.img_attn.qkv.weight");
  ASSERT_FALSE(joined.encoded());
  const auto parts = joined.decoded().chunk(3, 0);
  EXPECT_TRUE(at::equal(parts[0], diffusers.at(q).decoded()));
  EXPECT_TRUE(at::equal(parts[1], diffusers.at(k).decoded()));  // the Q8_0 values, decoded
  EXPECT_TRUE(at::equal(parts[2], reference.at("double_blocks.0.img_attn.qkv.weight").chunk(3, 0)[2]));
}

void expect_data_error(const std::map<std::string, StoredTensor>& tensors, const std::string& needle) {
  try {
    convert_diffusers_flux2(tensors, "bad.safetensors");
    FAIL() << "expected a DataError mentioning " << needle;
  } catch (const DataError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("bad.safetensors"), std::string::npos) << message;
    EXPECT_NE(message.find(needle), std::string::npos) << message;
  }
}

TEST(Flux2Layouts, TensorsThatDoNotFitAreReportedByName) {
  std::map<std::string, StoredTensor> good;
  for (const auto& [name, tensor] : test::flux2_to_diffusers(reference_tensors("flux2_klein_tiny"))) {
    good.emplace(name, StoredTensor(tensor));
  }
  auto extra = good;
  extra.emplace("transformer_blocks.0.attn.to_qkv.weight", StoredTensor(at::zeros({288, 96})));
  expect_data_error(extra, "'transformer_blocks.0.attn.to_qkv.weight' has no place");

  auto missing = good;
  missing.erase("transformer_blocks.0.attn.add_v_proj.weight");
  expect_data_error(missing, "missing tensor 'transformer_blocks.0.attn.add_v_proj.weight'");

  auto misshapen = good;
  misshapen["transformer_blocks.0.attn.to_k.weight"] = StoredTensor(at::zeros({96, 48}));
  expect_data_error(misshapen, "'transformer_blocks.0.attn.to_k.weight' has shape [96, 48]");

  auto odd = good;
  odd["norm_out.linear.weight"] = StoredTensor(at::zeros({191, 96}));
  expect_data_error(odd, "'norm_out.linear.weight' has shape [191, 96], expected an even first dimension");
}

}  // namespace
}  // namespace untwist
