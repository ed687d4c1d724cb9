// The toy model's trainer: rectified flow as FLUX samples it (data at t = 0,
// noise at t = 1, velocity target noise - data), t logit-normal mixed with
// uniform, AdamW with warm-up and cosine decay, gradient clipping, optional
// bfloat16 autocast, an exponential moving average of the weights for
// sampling, and checkpoints to resume from. A resumed run draws the same
// batches, times and noise as an uninterrupted one, but Adam's moments are
// stored in bfloat16 (half the file), so it follows that run closely, not bit
// for bit.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace untwist::toy {

struct TrainOptions {
  std::string output_dir = "models/toy";  // toy.safetensors (EMA weights) and train_state.safetensors
  int steps = 4000;                       // total planned steps (the schedule's length)
  int stop_after = 0;                     // stop at this step this run (0: at `steps`), to train across sessions
  int batch = 32;
  double learning_rate = 1e-3;
  int warmup = 200;
  double weight_decay = 0.01;
  double clip_norm = 1.0;
  double ema_decay = 0.999;
  double drop_attribute = 0.3;  // each attribute left out of a prompt with this chance
  double drop_prompt = 0.1;     // the whole prompt left empty with this chance
  double uniform_t = 0.5;       // share of samples whose t is uniform instead of logit-normal
  // Train on this many scenes, the same ones every step (0: fresh random
  // scenes every step). A check that the model and trainer can fit data.
  int fixed_scenes = 0;
  uint64_t seed = 0;
  bool resume = true;           // continue from train_state.safetensors when present
  // Forward and backward matmuls in bfloat16 (CPU autocast); weights, Adam's
  // moments and the loss stay float32. `untwist toy train` turns it on where
  // bfloat16 matmul is native (util/cpu_features.h): CPUs without it run
  // bfloat16 matmuls far slower than float32 ones.
  bool bf16_autocast = false;
  int checkpoint_every = 200;
};

struct TrainReport {
  int first_step = 0, last_step = 0;
  double final_loss = 0;  // mean over the last 50 steps
  std::vector<double> losses;  // each step's loss in this run
  double seconds = 0;
};

TrainReport train(const TrainOptions& options);

// [batch] times in (0, 1): logit-normal (the middle, where the image takes
// shape) mixed with uniform for a share `uniform_share`, so that t near 1,
// where the first sampling steps fix colours and layout, is trained too
// (logit-normal alone puts 1.4% of t above 0.9).
at::Tensor training_times(int64_t batch, double uniform_share, at::Generator& generator);

}  // namespace untwist::toy
