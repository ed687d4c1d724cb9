#include "model/flux2/flux2.h"

#include "io/weights.h"
#include "model/activations.h"
#include "model/flow_schedule.h"
#include "model/rope.h"
#include "util/errors.h"

namespace untwist {

namespace {

// silu(gate) * up, the halves of x's last dimension.
at::Tensor swiglu(const at::Tensor& x) {
  const auto halves = x.chunk(2, -1);
  return silu_float32(halves[0]) * halves[1];
}

}  // namespace

double flux2_empirical_mu(int64_t image_tokens, int num_steps) {
  const double a1 = 8.73809524e-05, b1 = 1.89833333, a2 = 0.00016927, b2 = 0.45666666;
  const double length = static_cast<double>(image_tokens);
  if (image_tokens > 4300) return a2 * length + b2;
  const double m_200 = a2 * length + b2, m_10 = a1 * length + b1;
  const double a = (m_200 - m_10) / 190.0, b = m_200 - 200.0 * a;
  return a * num_steps + b;
}

Flux2Model::Flux2Model(const Weights& weights, Flux2Config config, at::ScalarType compute_dtype, at::Device device)
    : config_(std::move(config)),
      rope_{config_.axes_dim, {AxisRole::Index, AxisRole::Row, AxisRole::Column, AxisRole::Sequence}, config_.theta},
      dtype_(compute_dtype),
      device_(device) {
  if (config_.axes_dim.size() != 4) {
    throw DataError("a FLUX.2 transformer has 4 RoPE axes, not " + std::to_string(config_.axes_dim.size()));
  }
  const int64_t hidden = config_.hidden_size, head_dim = config_.head_dim(), mlp = config_.mlp_hidden;
  const WeightLoader load{weights, dtype_, device_, named_weights_};
  img_in = load.linear("img_in", hidden, config_.in_channels, false);
  txt_in = load.linear("txt_in", hidden, config_.context_in_dim, false);
  time_in = load.embedder("time_in", 256, hidden, false);
  if (config_.guidance_embed) guidance_in = load.embedder("guidance_in", 256, hidden, false);
  double_stream_modulation_img = load.linear("double_stream_modulation_img.lin", 6 * hidden, hidden, false);
  double_stream_modulation_txt = load.linear("double_stream_modulation_txt.lin", 6 * hidden, hidden, false);
  single_stream_modulation = load.linear("single_stream_modulation.lin", 3 * hidden, hidden, false);

  for (int64_t n = 0; n < config_.depth; ++n) {
    const std::string prefix = "double_blocks." + std::to_string(n) + ".";
    flux2::DoubleStreamBlock block;
    for (const char* stream : {"img", "txt"}) {
      const std::string attn = prefix + stream + "_attn";
      SelfAttentionWeights& target = std::string(stream) == "img" ? block.img_attn : block.txt_attn;
      target.qkv = load.linear(attn + ".qkv", 3 * hidden, hidden, false);
      target.norm = load.qk_norm(attn + ".norm", head_dim);
      target.proj = load.linear(attn + ".proj", hidden, hidden, false);
    }
    block.img_mlp_0 = load.linear(prefix + "img_mlp.0", 2 * mlp, hidden, false);
    block.img_mlp_2 = load.linear(prefix + "img_mlp.2", hidden, mlp, false);
    block.txt_mlp_0 = load.linear(prefix + "txt_mlp.0", 2 * mlp, hidden, false);
    block.txt_mlp_2 = load.linear(prefix + "txt_mlp.2", hidden, mlp, false);
    double_blocks.push_back(std::move(block));
  }
  for (int64_t n = 0; n < config_.depth_single_blocks; ++n) {
    const std::string prefix = "single_blocks." + std::to_string(n) + ".";
    flux2::SingleStreamBlock block;
    block.linear1 = load.linear(prefix + "linear1", 3 * hidden + 2 * mlp, hidden, false);
    block.linear2 = load.linear(prefix + "linear2", hidden, hidden + mlp, false);
    block.norm = load.qk_norm(prefix + "norm", head_dim);
    single_blocks.push_back(std::move(block));
  }
  final_layer_adaLN_modulation_1 = load.linear("final_layer.adaLN_modulation.1", 2 * hidden, hidden, false);
  final_layer_linear = load.linear("final_layer.linear", config_.out_channels, hidden, false);
}

std::vector<BlockGroup> Flux2Model::block_groups() const {
  return {{"double", config_.depth}, {"single", config_.depth_single_blocks}};
}

at::Tensor Flux2Model::image_ids(int64_t batch, int64_t h, int64_t w) const {
  at::Tensor ids = at::zeros({h, w, 4}, at::kFloat);
  ids.select(2, 1).copy_(at::arange(h, at::kFloat).unsqueeze(1).expand({h, w}));
  ids.select(2, 2).copy_(at::arange(w, at::kFloat).unsqueeze(0).expand({h, w}));
  return ids.reshape({1, h * w, 4}).expand({batch, h * w, 4}).contiguous();  // [B, h*w, 4]
}

at::Tensor Flux2Model::in_context_ids(int64_t batch, int index, int64_t h, int64_t w) const {
  at::Tensor ids = image_ids(batch, h, w);
  ids.select(2, 0).fill_(10.0 * (index + 1));
  return ids;
}

at::Tensor Flux2Model::text_ids(int64_t batch, int64_t length) const {
  at::Tensor ids = at::zeros({length, 4}, at::kFloat);
  ids.select(1, 3).copy_(at::arange(length, at::kFloat));
  return ids.unsqueeze(0).expand({batch, length, 4}).contiguous();  // [B, length, 4]
}

std::vector<double> Flux2Model::schedule(int num_steps, int64_t image_tokens, std::optional<bool>) const {
  return shift_times(linear_times(num_steps), flux2_empirical_mu(image_tokens, num_steps));
}

at::Tensor Flux2Model::position_table(const DitInputs& in) const {
  expect_shape("txt_ids", in.txt_ids, {-1, -1, 4});
  const int64_t batch = in.txt_ids.size(0);
  expect_shape("img_ids", in.img_ids, {batch, -1, 4});
  std::vector<at::Tensor> ids = {in.txt_ids, in.img_ids};
  if (in.cond_ids.defined()) {
    expect_shape("cond_ids", in.cond_ids, {batch, -1, 4});
    ids.push_back(in.cond_ids);
  }
  return rope_table(at::cat(ids, 1), config_.axes_dim, config_.theta);
}

void Flux2Model::check_inputs(const DitInputs& in, const at::Tensor& pe) const {
  expect_shape("img", in.img, {-1, -1, config_.in_channels});
  const int64_t batch = in.img.size(0);
  expect_shape("img_ids", in.img_ids, {batch, in.img.size(1), 4});
  expect_shape("txt", in.txt, {batch, -1, config_.context_in_dim});
  expect_shape("timesteps", in.timesteps, {batch});
  if (config_.guidance_embed) expect_shape("guidance", in.guidance, {batch});
  int64_t cond = 0;
  if (in.cond.defined()) {
    expect_shape("cond", in.cond, {batch, -1, config_.in_channels});
    expect_shape("cond_ids", in.cond_ids, {batch, in.cond.size(1), 4});
    cond = in.cond.size(1);
  }
  expect_shape("pe", pe, {batch, 1, in.txt.size(1) + in.img.size(1) + cond, config_.head_dim() / 2, 2, 2});
}

at::Tensor Flux2Model::run_stages(const DitInputs& in, const at::Tensor& pe, const AttentionHook* hook,
                                  const StageProbe* probe) const {
  check_inputs(in, pe);
  const int64_t heads = config_.num_heads, hidden = config_.hidden_size, mlp = config_.mlp_hidden;
  const int64_t txt_len = in.txt.size(1), img_len = in.img.size(1);
  const auto [rows, cols] = token_grid(in.img_ids, rope_);
  const std::vector<ImageSpan> image(in.img.size(0), ImageSpan{txt_len, img_len, rows, cols});

  const at::TensorOptions compute = at::TensorOptions().dtype(dtype_).device(device_);
  const at::Tensor pe_here = pe.to(device_);
  const at::Tensor tokens = in.cond.defined() ? at::cat({in.img, in.cond}, 1) : in.img;  // [B, L_img + L_cond, C]
  at::Tensor img = img_in(tokens.to(compute));  // [B, L_img + L_cond, hidden]
  at::Tensor txt = txt_in(in.txt.to(compute));  // [B, L_txt, hidden]
  at::Tensor vec = embed(time_in, timestep_embedding(in.timesteps.to(device_), 256).to(dtype_));  // [B, hidden]
  if (config_.guidance_embed) {
    vec = vec + embed(guidance_in, timestep_embedding(in.guidance.to(device_), 256).to(dtype_));
  }
  if (probe && !probe_inputs(*probe, img, txt, vec)) return {};

  // shift, scale, gate of the attention and of the MLP, each [B, 1, hidden]
  const auto img_mod = modulation(double_stream_modulation_img, vec, 6);
  const auto txt_mod = modulation(double_stream_modulation_txt, vec, 6);
  const auto single_mod = modulation(single_stream_modulation, vec, 3);

  for (size_t n = 0; n < double_blocks.size(); ++n) {
    const flux2::DoubleStreamBlock& block = double_blocks[n];
    auto img_qkv = split_qkv(block.img_attn.qkv(modulate(img, img_mod[kAttnShift], img_mod[kAttnScale])), heads);
    auto txt_qkv = split_qkv(block.txt_attn.qkv(modulate(txt, txt_mod[kAttnShift], txt_mod[kAttnScale])), heads);
    const auto [img_q, img_k] = qk_norm(block.img_attn.norm, img_qkv[0], img_qkv[1], img_qkv[2]);
    const auto [txt_q, txt_k] = qk_norm(block.txt_attn.norm, txt_qkv[0], txt_qkv[1], txt_qkv[2]);
    const at::Tensor attn = attend(hook, {{"double", static_cast<int>(n)},
                                          at::cat({txt_q, img_q}, 2),  // [B, H, L, D]
                                          at::cat({txt_k, img_k}, 2),
                                          at::cat({txt_qkv[2], img_qkv[2]}, 2),
                                          pe_here,
                                          image,
                                          &rope_,
                                          {}});  // [B, L, hidden]
    const at::Tensor txt_attn = attn.narrow(1, 0, txt_len);
    const at::Tensor img_attn = attn.narrow(1, txt_len, img.size(1));
    img = img + img_mod[kAttnGate] * block.img_attn.proj(img_attn);
    img = img + img_mod[kMlpGate] *
                    block.img_mlp_2(swiglu(block.img_mlp_0(modulate(img, img_mod[kMlpShift], img_mod[kMlpScale]))));
    txt = txt + txt_mod[kAttnGate] * block.txt_attn.proj(txt_attn);
    txt = txt + txt_mod[kMlpGate] *
                    block.txt_mlp_2(swiglu(block.txt_mlp_0(modulate(txt, txt_mod[kMlpShift], txt_mod[kMlpScale]))));
    if (probe && !probe_double_block(*probe, n, img, txt)) return {};
  }
  at::Tensor x = at::cat({txt, img}, 1);  // [B, L_txt + L_img + L_cond, hidden]
  for (size_t n = 0; n < single_blocks.size(); ++n) {
    const flux2::SingleStreamBlock& block = single_blocks[n];
    const at::Tensor fused =
        block.linear1(modulate(x, single_mod[kAttnShift], single_mod[kAttnScale]));  // [B, L, 3 hidden + 2 mlp]
    auto qkv = split_qkv(fused.narrow(-1, 0, 3 * hidden), heads);
    const auto [q, k] = qk_norm(block.norm, qkv[0], qkv[1], qkv[2]);
    const at::Tensor attn =
        attend(hook, {{"single", static_cast<int>(n)}, q, k, qkv[2], pe_here, image, &rope_, {}});  // [B, L, hidden]
    const at::Tensor out = block.linear2(at::cat({attn, swiglu(fused.narrow(-1, 3 * hidden, 2 * mlp))}, 2));
    x = x + single_mod[kAttnGate] * out;
    if (probe && !(*probe)("single_blocks." + std::to_string(n), x)) return {};
  }
  img = x.narrow(1, txt_len, img_len);  // [B, L_img, hidden]: the in-context tokens' predictions are dropped

  const auto shift_scale = final_layer_adaLN_modulation_1(at::silu(vec)).chunk(2, 1);
  img = (1 + shift_scale[1].unsqueeze(1)) * layer_norm(img) + shift_scale[0].unsqueeze(1);
  const at::Tensor velocity = final_layer_linear(img).to(in.img.device(), at::kFloat);  // [B, L_img, out_channels]
  if (probe) (*probe)("final_layer", velocity);
  return velocity;
}

}  // namespace untwist
