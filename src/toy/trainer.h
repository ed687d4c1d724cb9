// The toy model's trainer: rectified flow as FLUX samples it (data at t = 0,
// noise at t = 1, velocity target noise - data), logit-normal t, AdamW with
// warm-up and cosine decay, gradient clipping, an exponential moving average
// of the weights for sampling, checkpoints that resume exactly.
#pragma once
#include <cstdint>
#include <string>

namespace untwist::toy {

struct TrainOptions {
  std::string output_dir = "models/toy";  // toy.safetensors (EMA weights) and train_state.safetensors
  int steps = 6000;                       // total planned steps (the schedule's length)
  int stop_after = 0;                     // stop at this step this run (0: at `steps`), to train across sessions
  int batch = 64;
  double learning_rate = 1e-3;
  int warmup = 200;
  double weight_decay = 0.01;
  double clip_norm = 1.0;
  double ema_decay = 0.999;
  double drop_attribute = 0.3;  // each attribute left out of a prompt with this chance
  double drop_prompt = 0.1;     // the whole prompt left empty with this chance
  uint64_t seed = 0;
  bool resume = true;           // continue from train_state.safetensors when present
  int checkpoint_every = 200;
};

struct TrainReport {
  int first_step = 0, last_step = 0;
  double final_loss = 0;  // mean over the last 50 steps
  double seconds = 0;
};

TrainReport train(const TrainOptions& options);

}  // namespace untwist::toy
