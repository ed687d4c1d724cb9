// What every diffusion-transformer family offers the rest of untwist: its RoPE
// layout (with the role of each axis), its block groups, its position ids and
// schedule, and a forward pass whose attention calls go through a hook. The
// method (share/), the samplers and the pipeline talk to a family only
// through this interface.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/attention.h"

namespace untwist {

// The inputs of one forward pass. Ids are RoPE positions, one column per axis.
struct DitInputs {
  at::Tensor img;        // [B, L_img, C] the generated image's tokens
  at::Tensor img_ids;    // [B, L_img, A]
  at::Tensor txt;        // [B, L_txt, context] text states
  at::Tensor txt_mask;   // [B, L_txt] bool: each row's real tokens, a prefix (texts right-padded); undefined: all
  at::Tensor txt_ids;    // [B, L_txt, A]
  at::Tensor y;          // [B, vec] pooled text vector, for families that take one
  at::Tensor timesteps;  // [B] in [0, 1], 1 = noise
  at::Tensor guidance;   // [B], for guidance-embedded models
  at::Tensor cond;       // [B, L_cond, C] in-context image tokens after the image (FLUX.2), or undefined
  at::Tensor cond_ids;   // [B, L_cond, A]
};

// Sees a forward pass's named intermediates in order, as each is computed:
// (name, tensor [B, ...]) -> whether to go on. Names follow the checkpoint's
// modules: "img_in", "txt_in", "vec", "double_blocks.3.img", "double_blocks.3.txt",
// "single_blocks.0", "final_layer" (FLUX); "x_embedder", "cap_embedder",
// "t_embedder", "noise_refiner.0", "context_refiner.0", "layers.0",
// "final_layer" (Z-Image).
using StageProbe = std::function<bool(const std::string& name, const at::Tensor& tensor)>;

// Where a forward pass first produced a value that is not finite.
struct NonFiniteSite {
  std::string stage;  // the intermediate's name, as a StageProbe sees it
  int64_t row = 0;    // batch row
};

class DiffusionTransformer {
 public:
  virtual ~DiffusionTransformer() = default;

  virtual std::string family() const = 0;   // "flux1", "flux2"
  virtual std::string variant() const = 0;  // "dev", "schnell", "klein", ...
  virtual const RopeLayout& rope() const = 0;
  // The block groups in forward order, and the method's default (a --blocks spec).
  virtual std::vector<BlockGroup> block_groups() const = 0;
  virtual std::string default_shared_blocks() const = 0;
  virtual bool guidance_embedded() const = 0;
  // Whether the guidance value is a classifier-free guidance scale: the
  // sampler runs the batch again with negative text (Z-Image). False for
  // guidance-embedded and guidance-distilled families.
  virtual bool classifier_free_guidance() const { return false; }
  // The reference pipeline's defaults for text-to-image.
  virtual int default_steps() const = 0;
  virtual double default_guidance() const = 0;
  // The image side in pixels when the user gives no size: 1024 for FLUX.1,
  // FLUX.2 and Z-Image; a model trained at one size (the toy) says its own.
  virtual int64_t default_image_size() const { return 1024; }
  virtual int64_t in_channels() const = 0;
  virtual at::ScalarType compute_dtype() const = 0;
  virtual at::Device device() const = 0;

  // Position ids as the reference builds them: the generated image's tokens
  // on an h x w grid [B, h*w, A], and a text of `length` tokens [B, length, A].
  virtual at::Tensor image_ids(int64_t batch, int64_t h, int64_t w) const = 0;
  virtual at::Tensor text_ids(int64_t batch, int64_t length) const = 0;
  // The ids of in-context image `index` (0, 1, ...) on an h x w grid
  // [B, h*w, A]; UsageError for families without in-context images.
  virtual at::Tensor in_context_ids(int64_t batch, int index, int64_t h, int64_t w) const;

  // num_steps + 1 times from 1 down to 0 for `image_tokens` tokens; `shift`
  // overrides the family's default where the family has a choice.
  virtual std::vector<double> schedule(int num_steps, int64_t image_tokens, std::optional<bool> shift) const = 0;

  // The rotation table of the joint sequence the forward pass attends over:
  // [B, 1, L, D/2, 2, 2].
  virtual at::Tensor position_table(const DitInputs& inputs) const = 0;

  // -> velocity [B, L_img, C] in float32 on img's device. Every attention call
  // goes through `hook` when one is given.
  virtual at::Tensor forward(const DitInputs& inputs, const at::Tensor& pe,
                             const AttentionHook* hook = nullptr) const = 0;

  // The forward pass with `probe` shown every named intermediate; when the
  // probe stops the pass the result is undefined.
  virtual at::Tensor forward_probed(const DitInputs& inputs, const at::Tensor& pe, const AttentionHook* hook,
                                    const StageProbe& probe) const = 0;
  // The checkpoint name of the first weight holding NaN or Inf; empty if none.
  virtual std::string first_non_finite_weight() const = 0;
};

// Runs the forward pass again, checking every named intermediate: the first
// one and its row that is not finite, or nothing when all are.
std::optional<NonFiniteSite> locate_non_finite(const DiffusionTransformer& model, const DitInputs& inputs,
                                               const at::Tensor& pe, const AttentionHook* hook);

// The token grid (rows, columns) of image ids: one more than the largest
// coordinate on the layout's row and column axes.
std::pair<int64_t, int64_t> token_grid(const at::Tensor& img_ids, const RopeLayout& rope);

}  // namespace untwist
