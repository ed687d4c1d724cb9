#include "model/zimage/zimage.h"

#include "io/weights.h"
#include "model/activations.h"
#include "model/rope.h"
#include "util/errors.h"

namespace untwist {

namespace {

// Both parts of the joint sequence are padded to a multiple of this.
constexpr int64_t kSequenceMultiple = 32;
// The reference scheduler's static shift, its training steps, and the
// frequency embedding of the time (256 channels, max period 10000).
constexpr double kShift = 3.0;
constexpr double kTrainSteps = 1000.0;
constexpr int64_t kTimeFrequencies = 256;

int64_t padded(int64_t length) { return (length + kSequenceMultiple - 1) / kSequenceMultiple * kSequenceMultiple; }

}  // namespace

ZImageModel::ZImageModel(const Weights& weights, ZImageConfig config, at::ScalarType compute_dtype, at::Device device)
    : config_(std::move(config)),
      rope_{config_.axes_dims, {AxisRole::Index, AxisRole::Row, AxisRole::Column}, config_.theta},
      dtype_(compute_dtype),
      device_(device) {
  const int64_t dim = config_.dim;
  const WeightLoader load{weights, dtype_, device_, named_weights_};
  x_embedder = load.linear("all_x_embedder." + config_.embedder_key, dim, config_.token_channels(), true);
  final_linear = load.linear("all_final_layer." + config_.embedder_key + ".linear", config_.token_channels(), dim, true);
  final_adaLN_modulation_1 =
      load.linear("all_final_layer." + config_.embedder_key + ".adaLN_modulation.1", dim, config_.adaln_dim, true);
  t_embedder_mlp_0 = load.linear("t_embedder.mlp.0", config_.time_hidden, kTimeFrequencies, true);
  t_embedder_mlp_2 = load.linear("t_embedder.mlp.2", config_.adaln_dim, config_.time_hidden, true);
  cap_embedder_0 = load.get("cap_embedder.0.weight", {config_.cap_feat_dim});
  cap_embedder_1 = load.linear("cap_embedder.1", dim, config_.cap_feat_dim, true);
  x_pad_token = load.get("x_pad_token", {1, dim});
  cap_pad_token = load.get("cap_pad_token", {1, dim});
  for (int64_t n = 0; n < config_.n_noise_refiner; ++n) {
    noise_refiner.push_back(load_block(load, "noise_refiner." + std::to_string(n) + ".", true));
  }
  for (int64_t n = 0; n < config_.n_context_refiner; ++n) {
    context_refiner.push_back(load_block(load, "context_refiner." + std::to_string(n) + ".", false));
  }
  for (int64_t n = 0; n < config_.n_layers; ++n) {
    layers.push_back(load_block(load, "layers." + std::to_string(n) + ".", true));
  }
}

zimage::TransformerBlock ZImageModel::load_block(const WeightLoader& load, const std::string& prefix,
                                                 bool modulated) const {
  const int64_t dim = config_.dim, head_dim = config_.head_dim(), hidden = config_.ffn_hidden;
  zimage::TransformerBlock block;
  const std::string attention = prefix + "attention.";
  block.attention.to_q = load.linear(attention + "to_q", dim, dim, false);
  block.attention.to_k = load.linear(attention + "to_k", dim, dim, false);
  block.attention.to_v = load.linear(attention + "to_v", dim, dim, false);
  block.attention.to_out_0 = load.linear(attention + "to_out.0", dim, dim, false);
  if (config_.qk_norm) {
    block.attention.norm_q = load.get(attention + "norm_q.weight", {head_dim});
    block.attention.norm_k = load.get(attention + "norm_k.weight", {head_dim});
  }
  block.attention_norm1 = load.get(prefix + "attention_norm1.weight", {dim});
  block.attention_norm2 = load.get(prefix + "attention_norm2.weight", {dim});
  block.ffn_norm1 = load.get(prefix + "ffn_norm1.weight", {dim});
  block.ffn_norm2 = load.get(prefix + "ffn_norm2.weight", {dim});
  block.feed_forward_w1 = load.linear(prefix + "feed_forward.w1", hidden, dim, false);
  block.feed_forward_w2 = load.linear(prefix + "feed_forward.w2", dim, hidden, false);
  block.feed_forward_w3 = load.linear(prefix + "feed_forward.w3", hidden, dim, false);
  if (modulated) block.adaLN_modulation_0 = load.linear(prefix + "adaLN_modulation.0", 4 * dim, config_.adaln_dim, true);
  return block;
}

std::vector<BlockGroup> ZImageModel::block_groups() const {
  return {{"refiner", config_.n_noise_refiner}, {"layers", config_.n_layers}};
}

at::Tensor ZImageModel::image_ids(int64_t batch, int64_t h, int64_t w) const {
  at::Tensor ids = at::zeros({h, w, 3}, at::kFloat);
  ids.select(2, 1).copy_(at::arange(h, at::kFloat).unsqueeze(1).expand({h, w}));
  ids.select(2, 2).copy_(at::arange(w, at::kFloat).unsqueeze(0).expand({h, w}));
  return ids.reshape({1, h * w, 3}).expand({batch, h * w, 3}).contiguous();  // [B, h*w, 3]
}

at::Tensor ZImageModel::text_ids(int64_t batch, int64_t length) const {
  at::Tensor ids = at::zeros({length, 3}, at::kFloat);
  ids.select(1, 0).copy_(at::arange(1, length + 1, at::kFloat));
  return ids.unsqueeze(0).expand({batch, length, 3}).contiguous();  // [B, length, 3]
}

std::vector<double> ZImageModel::schedule(int num_steps, int64_t, std::optional<bool> shift) const {
  // numpy's linspace(1000, 0, n + 1)[:-1] / 1000, shifted in float64, kept in float32.
  const double s = shift.value_or(true) ? kShift : 1.0;
  const double step = -kTrainSteps / num_steps;
  std::vector<double> times;
  for (int i = 0; i < num_steps; ++i) {
    const double sigma = (kTrainSteps + i * step) / kTrainSteps;
    times.push_back(static_cast<float>(s * sigma / (1.0 + (s - 1.0) * sigma)));
  }
  times.push_back(0.0);
  return times;
}

zimage::JointLayout ZImageModel::layout(const DitInputs& in) const {
  expect_shape("img", in.img, {-1, -1, config_.token_channels()});
  const int64_t batch = in.img.size(0);
  expect_shape("txt", in.txt, {batch, -1, config_.cap_feat_dim});
  const int64_t text = in.txt.size(1);
  zimage::JointLayout parts;
  parts.image = in.img.size(1);
  parts.image_padded = padded(parts.image);
  parts.caption.assign(static_cast<size_t>(batch), text);
  if (in.txt_mask.defined()) {
    expect_shape("txt_mask", in.txt_mask, {batch, text});
    const at::Tensor mask = in.txt_mask.to(at::kCPU, at::kBool);
    const at::Tensor lengths = mask.sum(1);  // [B]
    const at::Tensor prefix = at::arange(text).unsqueeze(0) < lengths.unsqueeze(1);
    if (!at::equal(prefix, mask)) throw InputError("txt_mask is not each row's first tokens (right padding)");
    for (int64_t b = 0; b < batch; ++b) parts.caption[static_cast<size_t>(b)] = lengths[b].item<int64_t>();
  }
  for (int64_t length : parts.caption) {
    if (length == 0) throw InputError("a row has an empty caption (Z-Image needs at least one text token)");
    parts.caption_padded.push_back(padded(length));
    parts.caption_max = std::max(parts.caption_max, parts.caption_padded.back());
  }
  return parts;
}

at::Tensor ZImageModel::position_table(const DitInputs& in) const {
  const zimage::JointLayout parts = layout(in);
  const int64_t batch = in.img.size(0);
  expect_shape("img_ids", in.img_ids, {batch, parts.image, 3});
  at::Tensor ids = at::zeros({batch, parts.length(), 3}, at::kFloat);  // pads and masked positions at (0, 0, 0)
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t caption = parts.caption_padded[static_cast<size_t>(b)];
    at::Tensor image = ids[b].narrow(0, 0, parts.image);
    image.copy_(in.img_ids[b].to(at::kFloat));
    image.select(1, 0).add_(static_cast<double>(caption + 1));
    ids[b].narrow(0, parts.image_padded, caption).select(1, 0).copy_(at::arange(1, caption + 1, at::kFloat));
  }
  return rope_table(ids, config_.axes_dims, config_.theta);
}

void ZImageModel::check_inputs(const DitInputs& in, const at::Tensor& pe, const zimage::JointLayout& parts) const {
  const int64_t batch = in.img.size(0);
  expect_shape("img_ids", in.img_ids, {batch, parts.image, 3});
  expect_shape("timesteps", in.timesteps, {batch});
  expect_shape("pe", pe, {batch, 1, parts.length(), config_.head_dim() / 2, 2, 2});
}

at::Tensor ZImageModel::rms(const at::Tensor& x, const at::Tensor& weight) const {
  const at::Tensor wide = x.to(at::kFloat);
  return (wide * at::rsqrt(wide.pow(2).mean(-1, /*keepdim=*/true) + config_.norm_eps)).to(x.scalar_type()) * weight;
}

at::Tensor ZImageModel::run_block(const zimage::TransformerBlock& block, const at::Tensor& x, const at::Tensor& adaln,
                                  const AttentionCall& site, const AttentionHook* hook) const {
  const int64_t batch = x.size(0), length = x.size(1), heads = config_.num_heads;
  // scale and gate of the attention, then of the feed-forward, each [B, 1, dim]
  std::vector<at::Tensor> mod;
  if (adaln.defined()) mod = block.adaLN_modulation_0(adaln).unsqueeze(1).chunk(4, -1);
  const auto scaled = [&](const at::Tensor& h, int chunk) { return mod.empty() ? h : h * (1 + mod[chunk]); };
  const auto gated = [&](const at::Tensor& h, int chunk) { return mod.empty() ? h : at::tanh(mod[chunk]) * h; };

  const zimage::Attention& attention = block.attention;
  const at::Tensor h = scaled(rms(x, block.attention_norm1), 0);
  const auto heads_of = [&](const Linear& linear, const at::Tensor& norm) {
    at::Tensor states = linear(h).view({batch, length, heads, -1});  // [B, L, H, D]
    if (norm.defined()) states = rms(states, norm);
    return states.transpose(1, 2);  // [B, H, L, D]
  };
  AttentionCall call = site;
  call.q = heads_of(attention.to_q, attention.norm_q);
  call.k = heads_of(attention.to_k, attention.norm_k);
  call.v = heads_of(attention.to_v, at::Tensor());
  const at::Tensor attended = attention.to_out_0(attend(hook, call));  // [B, L, dim]
  at::Tensor out = x + gated(rms(attended, block.attention_norm2), 1);
  const at::Tensor ff_in = scaled(rms(out, block.ffn_norm1), 2);
  const at::Tensor ff = block.feed_forward_w2(silu_float32(block.feed_forward_w1(ff_in)) * block.feed_forward_w3(ff_in));
  return out + gated(rms(ff, block.ffn_norm2), 3);
}

at::Tensor ZImageModel::run_stages(const DitInputs& in, const at::Tensor& pe, const AttentionHook* hook,
                                   const StageProbe* probe) const {
  const zimage::JointLayout parts = layout(in);
  check_inputs(in, pe, parts);
  const int64_t batch = in.img.size(0), dim = config_.dim;
  const auto [rows, cols] = token_grid(in.img_ids, rope_);
  const std::vector<ImageSpan> image(static_cast<size_t>(batch), ImageSpan{0, parts.image, rows, cols});
  const at::TensorOptions compute = at::TensorOptions().dtype(dtype_).device(device_);
  const at::Tensor pe_here = pe.to(device_);

  // The reference's model time (0 = noise) from the sampler's t, computed as
  // its pipeline does from the scheduler's timestep t * 1000.
  const at::Tensor timestep = in.timesteps.to(device_, at::kFloat) * kTrainSteps;
  const at::Tensor model_time = (kTrainSteps - timestep) / kTrainSteps;  // [B]
  const at::Tensor frequencies = timestep_embedding(model_time, kTimeFrequencies, 10000.0, config_.t_scale).to(dtype_);
  const at::Tensor adaln = t_embedder_mlp_2(at::silu(t_embedder_mlp_0(frequencies)));  // [B, adaln_dim]

  at::Tensor x = x_embedder(in.img.to(compute));  // [B, L_img, dim]
  x = at::cat({x, x_pad_token.expand({batch, parts.image_padded - parts.image, dim})}, 1);  // [B, L_img_pad, dim]
  at::Tensor cap = cap_embedder_1(rms(in.txt.to(compute), cap_embedder_0));  // [B, L_txt, dim]
  // Each row's caption, then its pad tokens, then zeros to the longest row.
  const at::Tensor position = at::arange(parts.caption_max, at::TensorOptions().device(device_)).unsqueeze(0);
  const at::Tensor real = position < at::tensor(parts.caption).to(device_).unsqueeze(1);  // [B, Lc_max]
  const at::Tensor cap_mask = position < at::tensor(parts.caption_padded).to(device_).unsqueeze(1);
  const int64_t kept = std::min(cap.size(1), parts.caption_max);
  cap = at::constant_pad_nd(cap.narrow(1, 0, kept), {0, 0, 0, parts.caption_max - kept});  // [B, Lc_max, dim]
  cap = at::where(real.unsqueeze(-1), cap, at::where(cap_mask.unsqueeze(-1), cap_pad_token, at::zeros_like(cap)));
  if (probe && !((*probe)("x_embedder", x) && (*probe)("cap_embedder", cap) && (*probe)("t_embedder", adaln))) {
    return {};
  }

  const at::Tensor image_pe = pe_here.narrow(2, 0, parts.image_padded);
  for (size_t n = 0; n < noise_refiner.size(); ++n) {
    const AttentionCall site{{"refiner", static_cast<int>(n)}, {}, {}, {}, image_pe, image, &rope_, {}};
    x = run_block(noise_refiner[n], x, adaln, site, hook);
    if (probe && !(*probe)("noise_refiner." + std::to_string(n), x)) return {};
  }
  // Masks only where some row is shorter than the longest.
  const bool ragged = !cap_mask.all().item<bool>();
  const at::Tensor caption_pe = pe_here.narrow(2, parts.image_padded, parts.caption_max);
  for (size_t n = 0; n < context_refiner.size(); ++n) {
    const AttentionCall site{{"context_refiner", static_cast<int>(n)}, {}, {}, {}, caption_pe, {}, &rope_,
                             ragged ? cap_mask : at::Tensor()};
    cap = run_block(context_refiner[n], cap, at::Tensor(), site, nullptr);
    if (probe && !(*probe)("context_refiner." + std::to_string(n), cap)) return {};
  }
  at::Tensor joint = at::cat({x, cap}, 1);  // [B, L, dim]
  const at::Tensor joint_mask =
      ragged ? at::cat({at::ones({batch, parts.image_padded}, cap_mask.options()), cap_mask}, 1) : at::Tensor();
  for (size_t n = 0; n < layers.size(); ++n) {
    const AttentionCall site{{"layers", static_cast<int>(n)}, {}, {}, {}, pe_here, image, &rope_, joint_mask};
    joint = run_block(layers[n], joint, adaln, site, hook);
    if (probe && !(*probe)("layers." + std::to_string(n), joint)) return {};
  }

  const at::Tensor scale = 1 + final_adaLN_modulation_1(at::silu(adaln)).unsqueeze(1);  // [B, 1, dim]
  const at::Tensor out = final_linear(layer_norm(joint.narrow(1, 0, parts.image)) * scale);  // [B, L_img, C]
  // The reference's output is the negated velocity.
  const at::Tensor velocity = (-out).to(in.img.device(), at::kFloat);
  if (probe) (*probe)("final_layer", velocity);
  return velocity;
}

}  // namespace untwist
