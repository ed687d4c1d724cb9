// The layers the FLUX-style families share: reading their weights (matrices
// kept as stored), layer and RMS norms, adaLN modulation, qkv splitting,
// timestep MLPs and input checks.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "io/stored_tensor.h"
#include "model/attention.h"
#include "model/dit.h"
#include "model/linear.h"

namespace untwist {

class Weights;

struct MLPEmbedder {
  Linear in_layer, out_layer;
};

struct QKNorm {
  at::Tensor query_norm_scale, key_norm_scale;  // [D]
};

struct SelfAttentionWeights {
  Linear qkv;
  QKNorm norm;
  Linear proj;
};

// Reads tensors of a checkpoint: on the CPU matrices as stored, the rest in
// the compute dtype; on another device everything in the compute dtype there.
// Keeps each one's name for error reports.
struct WeightLoader {
  const Weights& weights;
  at::ScalarType dtype;
  at::Device device;
  std::vector<std::pair<std::string, StoredTensor>>& named;

  at::Tensor get(const std::string& name, const std::vector<int64_t>& shape) const;
  Linear linear(const std::string& name, int64_t out, int64_t in, bool bias) const;
  MLPEmbedder embedder(const std::string& name, int64_t in, int64_t hidden, bool bias) const;
  QKNorm qk_norm(const std::string& name, int64_t head_dim) const;
};

at::Tensor embed(const MLPEmbedder& embedder, const at::Tensor& x);
// No affine, eps 1e-6; computed in float32 and returned in x's dtype (as the
// reference's kernel does; libtorch 1.13's bfloat16 one is ten times slower).
at::Tensor layer_norm(const at::Tensor& x);
// RMSNorm in float32, back to x's dtype, then scaled (eps 1e-6).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& scale);
// q and k normalised per head, in v's dtype.
std::pair<at::Tensor, at::Tensor> qk_norm(const QKNorm& norm, const at::Tensor& q, const at::Tensor& k,
                                          const at::Tensor& v);
// (1 + scale) * LayerNorm(x) + shift
at::Tensor modulate(const at::Tensor& x, const at::Tensor& shift, const at::Tensor& scale);
// `count` chunks of [B, 1, hidden] from the conditioning vector: lin(silu(vec)).
std::vector<at::Tensor> modulation(const Linear& lin, const at::Tensor& vec, int64_t count);
// The chunks of a FLUX-style modulation, in the reference's order: shift,
// scale and gate of the attention, then (double-stream) of the MLP.
enum ModulationChunk { kAttnShift, kAttnScale, kAttnGate, kMlpShift, kMlpScale, kMlpGate };
// [B, L, 3*H*D] -> q, k, v each [B, H, L, D]
std::vector<at::Tensor> split_qkv(const at::Tensor& qkv, int64_t heads);
// The hook's attention when there is one, else plain attention. -> [B, L, H*D]
at::Tensor attend(const AttentionHook* hook, const AttentionCall& call);

// The head dim of a FLUX-style transformer from its first block's qk-norm
// scale (double blocks, else single blocks); DataError naming the file when
// there is no block or the head dim does not divide `hidden_size`.
int64_t qk_norm_head_dim(const Weights& weights, int64_t hidden_size, int64_t depth, int64_t depth_single_blocks);

// InputError unless `tensor` is defined and has `expected` sizes (-1: any).
void expect_shape(const char* name, const at::Tensor& tensor, const std::vector<int64_t>& expected);

// The FLUX-style probe points: the embedded image and text tokens and the
// conditioning vector ("img_in", "txt_in", "vec"), and a double block's two
// streams ("double_blocks.N.img", "double_blocks.N.txt"). -> whether to go on.
bool probe_inputs(const StageProbe& probe, const at::Tensor& img, const at::Tensor& txt, const at::Tensor& vec);
bool probe_double_block(const StageProbe& probe, size_t index, const at::Tensor& img, const at::Tensor& txt);

// A transformer whose forward pass is a sequence of named intermediates a
// probe can watch, and whose weights are kept by checkpoint name: forward,
// the probed forward and the NaN watch's weight search, once for every such
// family.
class StagedTransformer : public DiffusionTransformer {
 public:
  at::Tensor forward(const DitInputs& inputs, const at::Tensor& pe, const AttentionHook* hook = nullptr) const override;
  at::Tensor forward_probed(const DitInputs& inputs, const at::Tensor& pe, const AttentionHook* hook,
                            const StageProbe& probe) const override;
  std::string first_non_finite_weight() const override;

 protected:
  // The forward pass; `probe` (when given) sees each named intermediate and
  // may stop the pass (the result is then undefined).
  virtual at::Tensor run_stages(const DitInputs& inputs, const at::Tensor& pe, const AttentionHook* hook,
                                const StageProbe* probe) const = 0;

  std::vector<std::pair<std::string, StoredTensor>> named_weights_;  // every weight, by checkpoint name
};

}  // namespace untwist
