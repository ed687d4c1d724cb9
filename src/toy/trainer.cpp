#include "toy/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <random>

#include "io/safetensors.h"
#include "model/toy/pixel_latents.h"
#include "model/toy/toy_text.h"
#include "toy/toy_checkpoint.h"
#include "toy/world.h"
#include "util/errors.h"

namespace untwist::toy {

namespace {

struct Batch {
  at::Tensor x0;   // [B, 256, 12]
  at::Tensor ids;  // [B, kMaxWords]
};

// The scenes of TrainOptions::fixed_scenes, a function of the seed alone.
std::vector<Scene> fixed_scenes(const TrainOptions& options) {
  std::mt19937_64 rng(options.seed);
  std::vector<Scene> scenes;
  for (int i = 0; i < options.fixed_scenes; ++i) scenes.push_back(random_scene(rng));
  return scenes;
}

// The batch of step `step`: a function of the seed and the step alone, so a
// resumed run sees exactly the batches an uninterrupted one would.
Batch make_batch(const TrainOptions& options, int step) {
  std::mt19937_64 rng(options.seed * 1000003ull + static_cast<uint64_t>(step));
  std::bernoulli_distribution drop_attribute(options.drop_attribute), drop_prompt(options.drop_prompt);
  const std::vector<Scene> fixed = fixed_scenes(options);
  std::vector<at::Tensor> images;
  std::vector<std::string> prompts;
  for (int i = 0; i < options.batch; ++i) {
    const Scene scene = fixed.empty() ? random_scene(rng) : fixed[static_cast<size_t>(i) % fixed.size()];
    images.push_back(render(scene));
    PromptParts parts;
    parts.shape = !drop_attribute(rng);
    parts.foreground = !drop_attribute(rng);
    parts.background = !drop_attribute(rng);
    parts.texture = !drop_attribute(rng);
    parts.position = !drop_attribute(rng);
    prompts.push_back(drop_prompt(rng) ? "" : prompt_for(scene, parts));
  }
  return {pack_pixels(at::stack(images)), tokenize_batch(vocabulary(), prompts)};
}

// While alive and enabled, CPU autocast runs matmuls and linears in bfloat16;
// the autocast state before it comes back with its end.
class Bf16Autocast {
 public:
  explicit Bf16Autocast(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
    previous_enabled_ = at::autocast::is_cpu_enabled();
    previous_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~Bf16Autocast() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_cpu_enabled(previous_enabled_);
    at::autocast::set_autocast_cpu_dtype(previous_dtype_);
  }
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool enabled_, previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

double learning_rate_at(const TrainOptions& o, int step) {
  if (step < o.warmup) return o.learning_rate * (step + 1) / o.warmup;
  const double progress = std::min(1.0, static_cast<double>(step - o.warmup) / std::max(1, o.steps - o.warmup));
  return o.learning_rate * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * progress)));
}

struct State {
  TensorMap params, ema, m, v;
  int step = 0;
};

std::string state_path(const TrainOptions& o) { return o.output_dir + "/train_state.safetensors"; }
std::string model_path(const TrainOptions& o) { return o.output_dir + "/toy.safetensors"; }

State fresh_state(const TrainOptions& options) {
  State state;
  state.params = initial_weights(options.seed);
  for (auto& [name, tensor] : state.params) {
    tensor = tensor.contiguous().requires_grad_(true);
    state.ema[name] = tensor.detach().clone();
    state.m[name] = at::zeros_like(tensor.detach());
    state.v[name] = at::zeros_like(tensor.detach());
  }
  return state;
}

State load_state(const TrainOptions& options) {
  const auto file = SafetensorsFile::open(state_path(options));
  const auto ema_file = SafetensorsFile::open(model_path(options));
  State state = fresh_state(options);
  for (auto& [name, tensor] : state.params) {
    for (const char* part : {"param.", "adam_m.", "adam_v."}) {
      if (!file->contains(part + name)) fail_file(file->path(), std::string("missing tensor '") + part + name + "'");
    }
    tensor = file->tensor("param." + name).to(at::kFloat).clone().requires_grad_(true);
    state.m[name] = file->tensor("adam_m." + name).to(at::kFloat).clone();
    state.v[name] = file->tensor("adam_v." + name).to(at::kFloat).clone();
    state.ema[name] = ema_file->tensor(name).to(at::kFloat).clone();
  }
  state.step = std::stoi(file->metadata().at("step"));
  return state;
}

void save_state(const TrainOptions& options, const State& state, double loss) {
  NamedTensors train_state, model;
  for (const auto& [name, tensor] : state.params) {
    train_state.emplace_back("param." + name, tensor.detach());
    // Adam's moments keep well in bfloat16 and halve the resume file.
    train_state.emplace_back("adam_m." + name, state.m.at(name).to(at::kBFloat16));
    train_state.emplace_back("adam_v." + name, state.v.at(name).to(at::kBFloat16));
    model.emplace_back(name, state.ema.at(name));
  }
  char note[256];
  std::snprintf(note, sizeof(note), "EMA weights after %d of %d training steps, recent loss %.4f", state.step,
                options.steps, loss);
  // the model first: a state file never points past the weights beside it
  write_safetensors(model_path(options), model, checkpoint_metadata(note));
  write_safetensors(state_path(options), train_state,
                    {{"step", std::to_string(state.step)}, {"seed", std::to_string(options.seed)},
                     {"planned_steps", std::to_string(options.steps)}, {"batch", std::to_string(options.batch)}});
}

}  // namespace

at::Tensor training_times(int64_t batch, double uniform_share, at::Generator& generator) {
  const at::Tensor logit_normal = at::sigmoid(at::randn({batch}, generator));
  const at::Tensor uniform = at::rand({batch}, generator);
  return at::where(at::rand({batch}, generator) < uniform_share, uniform, logit_normal);
}

TrainReport train(const TrainOptions& options) {
  std::filesystem::create_directories(options.output_dir);
  const bool resuming = options.resume && std::filesystem::exists(state_path(options));
  State state = resuming ? load_state(options) : fresh_state(options);
  const int stop = options.stop_after > 0 ? std::min(options.stop_after, options.steps) : options.steps;
  TrainReport report;
  report.first_step = state.step;
  std::printf("%s at step %d of %d (batch %d, stopping at %d, matmuls in %s)\n", resuming ? "resuming" : "starting",
              state.step, options.steps, options.batch, stop, options.bf16_autocast ? "bfloat16" : "float32");
  std::fflush(stdout);

  at::Tensor pe;
  std::deque<double> recent;
  const auto start = std::chrono::steady_clock::now();
  while (state.step < stop) {
    const int step = state.step;
    const Batch batch = make_batch(options, step);
    const int64_t b = batch.x0.size(0);
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed * 7919ull + step);
    const at::Tensor t = training_times(b, options.uniform_t, generator);
    const at::Tensor noise = at::randn(batch.x0.sizes(), generator);
    const at::Tensor tt = t.reshape({b, 1, 1});
    const at::Tensor xt = (1 - tt) * batch.x0 + tt * noise;

    const ToyModel model = toy_from_tensors(state.params);
    if (!pe.defined() || pe.size(0) != b) pe = toy_position_table(model, b);
    at::Tensor loss;
    {
      const Bf16Autocast autocast(options.bf16_autocast);
      const at::Tensor prediction = predict_velocity(model, xt, batch.ids, t, pe);
      loss = (prediction - (noise - batch.x0)).pow(2).mean();
    }
    loss.backward();

    {
      at::NoGradGuard no_grad;
      double norm_squared = 0;
      for (auto& [name, p] : state.params) norm_squared += p.grad().pow(2).sum().item<double>();
      const double norm = std::sqrt(norm_squared);
      const double clip = norm > options.clip_norm ? options.clip_norm / norm : 1.0;
      const double lr = learning_rate_at(options, step);
      const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
      const double c1 = 1 - std::pow(b1, step + 1), c2 = 1 - std::pow(b2, step + 1);
      // the average warms up so that early checkpoints are not mostly the initial weights
      const double decay = std::min(options.ema_decay, (1.0 + step) / (10.0 + step));
      for (auto& [name, p] : state.params) {
        const at::Tensor g = p.grad() * clip;
        at::Tensor& m = state.m[name];
        at::Tensor& v = state.v[name];
        m.mul_(b1).add_(g, 1 - b1);
        v.mul_(b2).addcmul_(g, g, 1 - b2);
        if (p.dim() >= 2) p.mul_(1 - lr * options.weight_decay);  // decoupled decay, matrices only
        p.addcdiv_(m / c1, (v / c2).sqrt_().add_(eps), -lr);
        p.mutable_grad().reset();
        state.ema[name].mul_(decay).add_(p.detach(), 1 - decay);
      }
    }
    state.step = step + 1;
    report.losses.push_back(loss.item<double>());
    recent.push_back(report.losses.back());
    if (recent.size() > 50) recent.pop_front();
    double mean = 0;
    for (double l : recent) mean += l;
    mean /= static_cast<double>(recent.size());
    report.final_loss = mean;

    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const int done = state.step - report.first_step;
    if (state.step % 25 == 0 || state.step == stop || done <= 3) {
      std::printf("step %5d/%d  loss %.4f  lr %.2e  %.2f steps/s  ETA %.0f s\n", state.step, options.steps, mean,
                  learning_rate_at(options, step), done / elapsed, (stop - state.step) * elapsed / done);
      std::fflush(stdout);
    }
    if (state.step % options.checkpoint_every == 0 || state.step == stop) save_state(options, state, mean);
  }
  report.last_step = state.step;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace untwist::toy
