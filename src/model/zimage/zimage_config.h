// Z-Image DiT hyper-parameters, read off the weights' names and shapes; RoPE
// axes, theta, time scale and norm eps (which the tensors cannot tell) from
// the command line, else the file's metadata "params", else Z-Image's own.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/rope_config.h"

namespace untwist {

class Weights;

struct ZImageConfig {
  int64_t in_channels = 16;   // latent channels
  int64_t patch = 2;          // image tokens are patch x patch latent pixels
  std::string embedder_key = "2-1";  // all_x_embedder.<patch>-<frame patch>
  int64_t dim = 3840;
  int64_t num_heads = 30;
  int64_t n_layers = 30;
  int64_t n_noise_refiner = 2;
  int64_t n_context_refiner = 2;
  int64_t cap_feat_dim = 2560;
  int64_t ffn_hidden = 10240;  // int(dim / 3 * 8)
  int64_t adaln_dim = 256;     // min(dim, 256): the time embedding's width
  int64_t time_hidden = 1024;  // the time MLP's inner width
  bool qk_norm = true;
  double norm_eps = 1e-5;
  double t_scale = 1000;
  std::vector<int64_t> axes_dims = {32, 48, 48};
  double theta = 256;

  int64_t head_dim() const { return dim / num_heads; }
  // Channels of one image token: patch * patch * in_channels.
  int64_t token_channels() const { return patch * patch * in_channels; }
};

// Whether the weights are a Z-Image transformer (its learned pad tokens and
// caption refiner).
bool is_zimage_transformer(const Weights& weights);

// Widths, depths, heads (from the qk-norm weight, else the RoPE axes) and the
// patch from the tensors; axes_dims / rope_theta / t_scale / norm_eps from the
// override, else `params` (the reference's config keys), else Z-Image's
// [32, 48, 48] / 256 / 1000 / 1e-5. DataError naming the file when they do not fit.
ZImageConfig detect_zimage_config(const Weights& weights, const nlohmann::json& params, const RopeOverride& rope = {});

}  // namespace untwist
