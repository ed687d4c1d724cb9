#include "model/autoencoder.h"

#include "io/weights.h"
#include "model/attention.h"
#include "util/errors.h"

namespace untwist {

namespace {

class Loader {
 public:
  Loader(const Weights& weights, at::TensorOptions options) : weights_(weights), options_(options) {}

  Conv2d conv(const std::string& name, int64_t out, int64_t in, int64_t kernel, int64_t stride, int64_t padding) const {
    Conv2d conv;
    conv.weight = weights_.get(name + ".weight", {out, in, kernel, kernel}).to(options_);
    conv.bias = weights_.get(name + ".bias", {out}).to(options_);
    conv.stride = stride;
    conv.padding = padding;
    return conv;
  }

  GroupNorm32 norm(const std::string& name, int64_t channels) const {
    if (channels % 32 != 0) {
      fail_file(weights_.source(), "'" + name + "' normalises " + std::to_string(channels) +
                                       " channels, which 32 groups do not divide");
    }
    return {weights_.get(name + ".weight", {channels}).to(options_), weights_.get(name + ".bias", {channels}).to(options_)};
  }

  ResnetBlock resnet(const std::string& name, int64_t in, int64_t out) const {
    ResnetBlock block;
    block.norm1 = norm(name + ".norm1", in);
    block.conv1 = conv(name + ".conv1", out, in, 3, 1, 1);
    block.norm2 = norm(name + ".norm2", out);
    block.conv2 = conv(name + ".conv2", out, out, 3, 1, 1);
    if (in != out) block.nin_shortcut = conv(name + ".nin_shortcut", out, in, 1, 1, 0);
    return block;
  }

  MidBlock mid(const std::string& name, int64_t channels) const {
    MidBlock mid;
    mid.block_1 = resnet(name + ".block_1", channels, channels);
    mid.attn_1.norm = norm(name + ".attn_1.norm", channels);
    mid.attn_1.q = conv(name + ".attn_1.q", channels, channels, 1, 1, 0);
    mid.attn_1.k = conv(name + ".attn_1.k", channels, channels, 1, 1, 0);
    mid.attn_1.v = conv(name + ".attn_1.v", channels, channels, 1, 1, 0);
    mid.attn_1.proj_out = conv(name + ".attn_1.proj_out", channels, channels, 1, 1, 0);
    mid.block_2 = resnet(name + ".block_2", channels, channels);
    return mid;
  }

 private:
  const Weights& weights_;
  at::TensorOptions options_;  // compute dtype and device
};

at::Tensor swish(const at::Tensor& x) { return at::silu(x); }

at::Tensor run_resnet(const ResnetBlock& block, const at::Tensor& x) {
  at::Tensor h = block.conv1(swish(block.norm1(x)));
  h = block.conv2(swish(block.norm2(h)));
  const at::Tensor skip = block.nin_shortcut.weight.defined() ? block.nin_shortcut(x) : x;
  return skip + h;
}

at::Tensor run_attention(const AttnBlock& block, const at::Tensor& x) {
  const at::Tensor h = block.norm(x);
  const int64_t b = x.size(0), c = x.size(1), height = x.size(2), width = x.size(3);
  auto tokens = [&](const at::Tensor& t) {  // [B, C, H, W] -> [B, 1, H*W, C]
    return t.reshape({b, 1, c, height * width}).transpose(2, 3);
  };
  const at::Tensor out = scaled_dot_product_attention(tokens(block.q(h)), tokens(block.k(h)), tokens(block.v(h)));
  return x + block.proj_out(out.transpose(2, 3).reshape({b, c, height, width}));
}

at::Tensor run_mid(const MidBlock& mid, at::Tensor h) {
  h = run_resnet(mid.block_1, h);
  h = run_attention(mid.attn_1, h);
  return run_resnet(mid.block_2, h);
}

}  // namespace

Autoencoder::Autoencoder(const Weights& weights, AutoencoderConfig config, at::ScalarType compute_dtype,
                         at::Device device)
    : config_(std::move(config)), options_(at::TensorOptions().dtype(compute_dtype).device(device)) {
  const Loader load(weights, options_);
  const int64_t ch = config_.ch, levels = static_cast<int64_t>(config_.ch_mult.size());
  const int64_t deepest = ch * config_.ch_mult.back();

  encoder_conv_in = load.conv("encoder.conv_in", ch, config_.in_channels, 3, 1, 1);
  int64_t channels = ch;
  for (int64_t i = 0; i < levels; ++i) {
    Level level;
    const int64_t out = ch * config_.ch_mult[i];
    for (int64_t j = 0; j < config_.num_res_blocks; ++j) {
      level.block.push_back(load.resnet("encoder.down." + std::to_string(i) + ".block." + std::to_string(j), channels, out));
      channels = out;
    }
    if (i != levels - 1) level.resample = load.conv("encoder.down." + std::to_string(i) + ".downsample.conv", channels, channels, 3, 2, 0);
    encoder_down.push_back(std::move(level));
  }
  encoder_mid = load.mid("encoder.mid", deepest);
  encoder_norm_out = load.norm("encoder.norm_out", deepest);
  encoder_conv_out = load.conv("encoder.conv_out", 2 * config_.z_channels, deepest, 3, 1, 1);
  if (config_.quant_conv) {
    encoder_quant_conv = load.conv("encoder.quant_conv", 2 * config_.z_channels, 2 * config_.z_channels, 1, 1, 0);
  }

  if (config_.post_quant_conv) {
    decoder_post_quant_conv = load.conv("decoder.post_quant_conv", config_.z_channels, config_.z_channels, 1, 1, 0);
  }
  decoder_conv_in = load.conv("decoder.conv_in", deepest, config_.z_channels, 3, 1, 1);
  decoder_mid = load.mid("decoder.mid", deepest);
  decoder_up.resize(static_cast<size_t>(levels));
  channels = deepest;
  for (int64_t i = levels - 1; i >= 0; --i) {
    Level& level = decoder_up[static_cast<size_t>(i)];
    const int64_t out = ch * config_.ch_mult[i];
    for (int64_t j = 0; j <= config_.num_res_blocks; ++j) {
      level.block.push_back(load.resnet("decoder.up." + std::to_string(i) + ".block." + std::to_string(j), channels, out));
      channels = out;
    }
    if (i != 0) level.resample = load.conv("decoder.up." + std::to_string(i) + ".upsample.conv", channels, channels, 3, 1, 1);
  }
  decoder_norm_out = load.norm("decoder.norm_out", channels);
  decoder_conv_out = load.conv("decoder.conv_out", config_.out_channels, channels, 3, 1, 1);
}

at::Tensor Autoencoder::encode(const at::Tensor& image) const {
  return config_.scale_factor * (posterior_mean(image) - config_.shift_factor);
}

at::Tensor Autoencoder::decode(const at::Tensor& latent) const {
  return decode_unscaled(latent.to(at::kFloat) / config_.scale_factor + config_.shift_factor);
}

at::Tensor Autoencoder::posterior_mean(const at::Tensor& image) const {
  if (image.dim() != 4 || image.size(1) != config_.in_channels || image.size(2) % downscale() != 0 ||
      image.size(3) % downscale() != 0) {
    throw InputError("image of shape " + shape_string(image.sizes().vec()) + " is not [B, " +
                     std::to_string(config_.in_channels) + ", H, W] with H and W multiples of " +
                     std::to_string(downscale()));
  }
  at::Tensor h = encoder_conv_in(image.to(options_));
  for (const Level& level : encoder_down) {
    for (const ResnetBlock& block : level.block) h = run_resnet(block, h);
    if (level.resample.weight.defined()) h = level.resample(at::constant_pad_nd(h, {0, 1, 0, 1}, 0));  // [B, C, H/2, W/2]
  }
  h = run_mid(encoder_mid, h);
  h = encoder_conv_out(swish(encoder_norm_out(h)));  // [B, 2z, h, w]
  if (encoder_quant_conv.weight.defined()) h = encoder_quant_conv(h);
  return h.narrow(1, 0, config_.z_channels).to(image.device(), at::kFloat);  // [B, z, h, w]
}

at::Tensor Autoencoder::decode_unscaled(const at::Tensor& z) const {
  if (z.dim() != 4 || z.size(1) != config_.z_channels) {
    throw InputError("latent of shape " + shape_string(z.sizes().vec()) + " is not [B, " +
                     std::to_string(config_.z_channels) + ", h, w]");
  }
  at::Tensor h = z.to(options_);
  if (decoder_post_quant_conv.weight.defined()) h = decoder_post_quant_conv(h);
  h = run_mid(decoder_mid, decoder_conv_in(h));
  for (auto level = decoder_up.rbegin(); level != decoder_up.rend(); ++level) {
    for (const ResnetBlock& block : level->block) h = run_resnet(block, h);
    if (level->resample.weight.defined()) {
      h = level->resample(at::upsample_nearest2d(h, {h.size(2) * 2, h.size(3) * 2}));  // [B, C, 2H, 2W]
    }
  }
  return decoder_conv_out(swish(decoder_norm_out(h))).to(z.device(), at::kFloat);
}

}  // namespace untwist
