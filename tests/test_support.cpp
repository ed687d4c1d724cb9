#include "test_support.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "io/image_file.h"
#include "io/safetensors.h"
#include "model/text_encoders_random.h"

namespace untwist::test {

namespace fs = std::filesystem;

std::string golden_dir() {
  if (const char* dir = std::getenv("UNTWIST_GOLDEN_DIR")) return dir;
  return (fs::path(UNTWIST_SOURCE_DIR) / ".." / "shared" / "golden").lexically_normal().string();
}

std::string test_device() {
  const char* device = std::getenv("UNTWIST_TEST_DEVICE");
  return device ? device : "cpu";
}

std::vector<std::string> golden_files_of_kind(const std::string& kind) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(golden_dir())) {
    if (entry.path().extension() != ".safetensors") continue;
    const auto file = SafetensorsFile::open(entry.path().string());
    const auto it = file->metadata().find("kind");
    if (it != file->metadata().end() && it->second == kind) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  const at::Tensor a = actual.to(at::kDouble), e = expected.to(at::kDouble);
  if (a.sizes() != e.sizes()) return std::numeric_limits<double>::infinity();
  const double norm = e.norm().item<double>();
  const double diff = (a - e).norm().item<double>();
  return norm == 0 ? diff : diff / norm;
}

std::string scratch_dir() {
  static std::mt19937_64 random{std::random_device{}()};
  const fs::path dir = fs::temp_directory_path() / ("untwist-test-" + std::to_string(random()));
  fs::create_directories(dir);
  static std::vector<fs::path> to_remove;
  static const bool registered = [] {
    std::atexit([] {
      for (const auto& path : to_remove) fs::remove_all(path);
    });
    return true;
  }();
  (void)registered;
  to_remove.push_back(dir);
  return dir.string();
}

RunResult run_untwist(const std::vector<std::string>& args) { return run_program(UNTWIST_BINARY, args); }

RunResult run_program(const std::string& program, const std::vector<std::string>& args, const std::string& working_dir) {
  const auto quote = [](const std::string& text) {
    std::string quoted;
    for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return "'" + quoted + "'";
  };
  std::string command = working_dir.empty() ? "" : "cd " + quote(working_dir) + " && ";
  command += quote(program);
  for (const auto& arg : args) command += " " + quote(arg);
  command += " 2>&1";
  RunResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  size_t read = 0;
  while ((read = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), read);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace untwist::test

namespace untwist::test {

DitInputs golden_dit_inputs(const SafetensorsFile& golden) {
  const auto optional = [&](const std::string& name) { return golden.contains(name) ? golden.tensor(name) : at::Tensor(); };
  DitInputs in;
  in.img = golden.tensor("in.img");
  in.img_ids = golden.tensor("in.img_ids");
  in.txt = golden.tensor("in.txt");
  in.txt_ids = golden.tensor("in.txt_ids");
  in.y = optional("in.y");
  in.timesteps = optional("in.timesteps");
  in.guidance = optional("in.guidance");
  in.cond = optional("in.img_cond_seq");
  in.cond_ids = optional("in.img_cond_seq_ids");
  return in;
}

}  // namespace untwist::test

namespace untwist::test {

TensorMap flux2_to_diffusers(const TensorMap& reference) {
  const std::vector<std::pair<std::string, std::string>> renames = {
      {"img_in.weight", "x_embedder.weight"},
      {"txt_in.weight", "context_embedder.weight"},
      {"time_in.in_layer.weight", "time_guidance_embed.timestep_embedder.linear_1.weight"},
      {"time_in.out_layer.weight", "time_guidance_embed.timestep_embedder.linear_2.weight"},
      {"guidance_in.in_layer.weight", "time_guidance_embed.guidance_embedder.linear_1.weight"},
      {"guidance_in.out_layer.weight", "time_guidance_embed.guidance_embedder.linear_2.weight"},
      {"double_stream_modulation_img.lin.weight", "double_stream_modulation_img.linear.weight"},
      {"double_stream_modulation_txt.lin.weight", "double_stream_modulation_txt.linear.weight"},
      {"single_stream_modulation.lin.weight", "single_stream_modulation.linear.weight"},
      {"final_layer.linear.weight", "proj_out.weight"},
  };
  const std::vector<std::pair<std::string, std::string>> double_renames = {
      {"img_attn.norm.query_norm.scale", "attn.norm_q.weight"},
      {"img_attn.norm.key_norm.scale", "attn.norm_k.weight"},
      {"img_attn.proj.weight", "attn.to_out.0.weight"},
      {"img_mlp.0.weight", "ff.linear_in.weight"},
      {"img_mlp.2.weight", "ff.linear_out.weight"},
      {"txt_attn.norm.query_norm.scale", "attn.norm_added_q.weight"},
      {"txt_attn.norm.key_norm.scale", "attn.norm_added_k.weight"},
      {"txt_attn.proj.weight", "attn.to_add_out.weight"},
      {"txt_mlp.0.weight", "ff_context.linear_in.weight"},
      {"txt_mlp.2.weight", "ff_context.linear_out.weight"},
  };
  const std::vector<std::pair<std::string, std::string>> single_renames = {
      {"linear1.weight", "attn.to_qkv_mlp_proj.weight"},
      {"linear2.weight", "attn.to_out.weight"},
      {"norm.query_norm.scale", "attn.norm_q.weight"},
      {"norm.key_norm.scale", "attn.norm_k.weight"},
  };
  TensorMap out;
  for (const auto& [from, to] : renames) {
    if (reference.count(from)) out[to] = reference.at(from);
  }
  const at::Tensor final_mod = reference.at("final_layer.adaLN_modulation.1.weight");
  const auto shift_scale = final_mod.chunk(2, 0);
  out["norm_out.linear.weight"] = at::cat({shift_scale[1], shift_scale[0]}, 0);  // (scale, shift)
  for (int n : indices_under(reference, "double_blocks.")) {
    const std::string from = "double_blocks." + std::to_string(n) + ".";
    const std::string to = "transformer_blocks." + std::to_string(n) + ".";
    for (const auto& [a, b] : double_renames) out[to + b] = reference.at(from + a);
    const auto img_qkv = reference.at(from + "img_attn.qkv.weight").chunk(3, 0);
    out[to + "attn.to_q.weight"] = img_qkv[0];
    out[to + "attn.to_k.weight"] = img_qkv[1];
    out[to + "attn.to_v.weight"] = img_qkv[2];
    const auto txt_qkv = reference.at(from + "txt_attn.qkv.weight").chunk(3, 0);
    out[to + "attn.add_q_proj.weight"] = txt_qkv[0];
    out[to + "attn.add_k_proj.weight"] = txt_qkv[1];
    out[to + "attn.add_v_proj.weight"] = txt_qkv[2];
  }
  for (int n : indices_under(reference, "single_blocks.")) {
    const std::string from = "single_blocks." + std::to_string(n) + ".";
    const std::string to = "single_transformer_blocks." + std::to_string(n) + ".";
    for (const auto& [a, b] : single_renames) out[to + b] = reference.at(from + a);
  }
  return out;
}

}  // namespace untwist::test

namespace untwist::test {

int expect_outputs_match(const SafetensorsFile& golden, const SafetensorsFile& result, double tolerance) {
  int compared = 0;
  for (const auto& entry : golden.entries()) {
    if (entry.name.rfind("out.", 0) != 0) continue;
    if (!result.contains(entry.name)) {
      ADD_FAILURE() << result.path() << " has no " << entry.name;
      continue;
    }
    const bool sampled = entry.name.rfind("out.denoised", 0) == 0;
    const double error = relative_error(result.tensor(entry.name), golden.tensor(entry.name));
    EXPECT_LE(error, sampled ? kSamplingTolerance : tolerance) << entry.name;
    ++compared;
  }
  return compared;
}

std::vector<std::string> tiny_flux1_components(const std::string& dir, int64_t clip_width) {
  const std::string t5_path = dir + "/t5.safetensors";
  const std::string clip_path = dir + "/clip_" + std::to_string(clip_width) + ".safetensors";
  if (!std::filesystem::exists(t5_path)) {
    T5Config t5;
    t5.vocab_size = 300;
    t5.d_model = 48;
    t5.num_heads = 2;
    t5.d_kv = 16;
    t5.d_ff = 64;
    t5.num_layers = 2;
    write_safetensors(t5_path, random_t5_weights(t5, 5));
  }
  if (!std::filesystem::exists(clip_path)) {
    ClipTextConfig clip;
    clip.width = clip_width;
    clip.num_heads = 2;
    clip.intermediate = 4 * clip_width;
    clip.num_layers = 1;
    write_safetensors(clip_path, random_clip_weights(clip, 6), {{"config", R"({"num_attention_heads": 2})"}});
  }
  const std::string golden = golden_dir(), tokenizers = golden + "/../tokenizers";
  return {"--model", golden + "/flux_dev_tiny.safetensors", "--ae", golden + "/ae_tiny.safetensors", "--t5", t5_path,
          "--clip", clip_path, "--t5-tokenizer", tokenizers + "/t5_tiny/spiece.model", "--clip-tokenizer",
          tokenizers + "/clip/bpe_simple_vocab_16e6.txt.gz", "-W", "32", "-H", "48", "--t5-max-length", "16",
          "--dtype", "float32"};
}

void expect_runner_decode_matches_png(const at::Tensor& latent, const std::string& ae, const std::string& dir,
                                      const std::string& png) {
  write_safetensors(dir + "/ae_in.safetensors", {{"in.latent", latent}});
  const RunResult run =
      run_untwist({"ae", "--weights", ae, "--inputs", dir + "/ae_in.safetensors", "--output", dir + "/ae_out.safetensors"});
  ASSERT_EQ(run.status, 0) << run.output;
  const at::Tensor stepwise =
      ((SafetensorsFile::open(dir + "/ae_out.safetensors")->tensor("out.image")[0] + 1) / 2).clamp(0, 1);
  EXPECT_LE((stepwise - read_image(png)).abs().max().item<float>(), 0.5f / 255 + 1e-4f) << "equal up to 8-bit rounding";
}

}  // namespace untwist::test
