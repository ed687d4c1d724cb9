#include "io/flux2_diffusers_layout.h"

#include <algorithm>
#include <set>
#include <vector>

#include "util/errors.h"

namespace untwist {

namespace {

using StoredMap = std::map<std::string, StoredTensor>;

bool any_name_starts_with(const TensorMap& tensors, const std::string& prefix) {
  const auto it = tensors.lower_bound(prefix);
  return it != tensors.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

int64_t value_count(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (const int64_t extent : shape) count *= extent;
  return count;
}

// Parts stacked along dimension 0 (their other dimensions checked equal by
// the caller). Parts of one encoding are joined as bytes: every part is
// whole blocks, and rows lie one after another. Plain parts are joined as
// tensors; a mix is decoded to float32 first.
StoredTensor join_rows(const std::vector<StoredTensor>& parts) {
  const StoredTensor& first = parts.front();
  std::vector<int64_t> shape = first.sizes();
  shape[0] = 0;
  bool one_encoding = first.encoded();
  for (const auto& part : parts) {
    shape[0] += part.sizes()[0];
    one_encoding = one_encoding && part.encoded() && part.encoding() == first.encoding();
  }
  std::vector<at::Tensor> pieces;
  for (const auto& part : parts) pieces.push_back(one_encoding ? part.as_bytes() : part.decoded());
  if (one_encoding) return StoredTensor(first.encoding(), at::cat(pieces, 0), shape);  // [bytes of every part]
  return StoredTensor(at::cat(pieces, 0));  // [sum of rows, ...]
}

// The two halves of dimension 0 exchanged; as bytes where each half is whole blocks.
StoredTensor swap_row_halves(const StoredTensor& tensor) {
  if (tensor.encoded() && (value_count(tensor.sizes()) / 2) % encoding_block_values(tensor.encoding()) == 0) {
    const auto halves = tensor.as_bytes().chunk(2, 0);
    return StoredTensor(tensor.encoding(), at::cat({halves[1], halves[0]}, 0), tensor.sizes());
  }
  const auto halves = tensor.decoded().chunk(2, 0);
  return StoredTensor(at::cat({halves[1], halves[0]}, 0));
}

// Moves tensors from a diffusers map into a reference map, remembering which
// source names were used so that leftovers can be reported.
class Converter {
 public:
  Converter(const StoredMap& source, std::string path) : source_(source), path_(std::move(path)) {}

  bool has(const std::string& name) const { return source_.count(name) != 0; }

  const StoredTensor& take(const std::string& name) {
    const auto it = source_.find(name);
    if (it == source_.end()) fail_file(path_, "diffusers layout: missing tensor '" + name + "'");
    used_.insert(name);
    return it->second;
  }

  // from.weight/.bias -> to.weight/.bias (whichever exist).
  void rename(const std::string& from, const std::string& to) {
    for (const char* suffix : {".weight", ".bias"}) {
      if (has(from + suffix)) out_[to + suffix] = take(from + suffix);
    }
  }

  // RMSNorm: from.weight -> to.scale.
  void rename_scale(const std::string& from, const std::string& to) { out_[to + ".scale"] = take(from + ".weight"); }

  // Several linears stacked along the output dimension into one, in the order given.
  void join(const std::vector<std::string>& parts, const std::string& to) {
    for (const char* suffix : {".weight", ".bias"}) {
      if (!has(parts.front() + suffix)) continue;
      std::vector<StoredTensor> pieces;
      for (const auto& part : parts) {
        pieces.push_back(take(part + suffix));
        const auto& shape = pieces.back().sizes();
        const auto& first = pieces.front().sizes();
        if (shape.empty() || shape.size() != first.size() ||
            !std::equal(shape.begin() + 1, shape.end(), first.begin() + 1)) {
          fail_file(path_, "diffusers layout: tensor '" + part + suffix + "' has shape " + shape_string(shape) +
                               ", which does not stack with '" + parts.front() + suffix + "' of shape " +
                               shape_string(first));
        }
      }
      out_[to + suffix] = join_rows(pieces);
    }
  }

  // diffusers norm_out is (scale, shift); the reference's final adaLN is (shift, scale).
  void rename_swapping_halves(const std::string& from, const std::string& to) {
    for (const char* suffix : {".weight", ".bias"}) {
      if (!has(from + suffix)) continue;
      const StoredTensor& tensor = take(from + suffix);
      if (tensor.sizes().empty() || tensor.sizes()[0] % 2 != 0) {
        fail_file(path_, "diffusers layout: tensor '" + from + suffix + "' has shape " +
                             shape_string(tensor.sizes()) + ", expected an even first dimension (scale and shift)");
      }
      out_[to + suffix] = swap_row_halves(tensor);
    }
  }

  StoredMap finish() {
    for (const auto& entry : source_) {
      if (!used_.count(entry.first)) {
        fail_file(path_, "diffusers layout: tensor '" + entry.first + "' has no place in the FLUX.2 reference model");
      }
    }
    return std::move(out_);
  }

 private:
  const StoredMap& source_;
  std::string path_;
  StoredMap out_;
  std::set<std::string> used_;
};

}  // namespace

bool looks_like_diffusers_flux2(const TensorMap& tensors) {
  return tensors.count("double_stream_modulation_img.linear.weight") ||
         tensors.count("single_stream_modulation.linear.weight") ||
         any_name_starts_with(tensors, "time_guidance_embed.");
}

StoredMap convert_diffusers_flux2(const StoredMap& tensors, const std::string& source) {
  Converter c(tensors, source);
  c.rename("x_embedder", "img_in");
  c.rename("context_embedder", "txt_in");
  c.rename("time_guidance_embed.timestep_embedder.linear_1", "time_in.in_layer");
  c.rename("time_guidance_embed.timestep_embedder.linear_2", "time_in.out_layer");
  c.rename("time_guidance_embed.guidance_embedder.linear_1", "guidance_in.in_layer");
  c.rename("time_guidance_embed.guidance_embedder.linear_2", "guidance_in.out_layer");
  c.rename("double_stream_modulation_img.linear", "double_stream_modulation_img.lin");
  c.rename("double_stream_modulation_txt.linear", "double_stream_modulation_txt.lin");
  c.rename("single_stream_modulation.linear", "single_stream_modulation.lin");

  TensorMap every_name;  // for the block indices
  for (const auto& entry : tensors) every_name.emplace(entry.first, at::Tensor());
  for (int n : indices_under(every_name, "transformer_blocks.")) {
    const std::string from = "transformer_blocks." + std::to_string(n) + ".";
    const std::string to = "double_blocks." + std::to_string(n) + ".";
    c.join({from + "attn.to_q", from + "attn.to_k", from + "attn.to_v"}, to + "img_attn.qkv");
    c.join({from + "attn.add_q_proj", from + "attn.add_k_proj", from + "attn.add_v_proj"}, to + "txt_attn.qkv");
    c.rename_scale(from + "attn.norm_q", to + "img_attn.norm.query_norm");
    c.rename_scale(from + "attn.norm_k", to + "img_attn.norm.key_norm");
    c.rename_scale(from + "attn.norm_added_q", to + "txt_attn.norm.query_norm");
    c.rename_scale(from + "attn.norm_added_k", to + "txt_attn.norm.key_norm");
    c.rename(from + "attn.to_out.0", to + "img_attn.proj");
    c.rename(from + "attn.to_add_out", to + "txt_attn.proj");
    // SwiGLU: linear_in holds (gate, value) as the reference's mlp.0 does.
    c.rename(from + "ff.linear_in", to + "img_mlp.0");
    c.rename(from + "ff.linear_out", to + "img_mlp.2");
    c.rename(from + "ff_context.linear_in", to + "txt_mlp.0");
    c.rename(from + "ff_context.linear_out", to + "txt_mlp.2");
  }
  for (int n : indices_under(every_name, "single_transformer_blocks.")) {
    const std::string from = "single_transformer_blocks." + std::to_string(n) + ".";
    const std::string to = "single_blocks." + std::to_string(n) + ".";
    // One fused projection in both layouts: (q, k, v, mlp gate, mlp value).
    c.rename(from + "attn.to_qkv_mlp_proj", to + "linear1");
    c.rename(from + "attn.to_out", to + "linear2");
    c.rename_scale(from + "attn.norm_q", to + "norm.query_norm");
    c.rename_scale(from + "attn.norm_k", to + "norm.key_norm");
  }
  c.rename_swapping_halves("norm_out.linear", "final_layer.adaLN_modulation.1");
  c.rename("proj_out", "final_layer.linear");
  return c.finish();
}

}  // namespace untwist
