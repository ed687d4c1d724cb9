// `untwist toy`: the project's own tiny model and its world.
#include <iostream>

#include "cli_values.h"
#include "commands.h"
#include "toy/trainer.h"
#include "util/cpu_features.h"

namespace untwist {

void add_toy_command(CLI::App& app) {
  CLI::App* toy = app.add_subcommand("toy", "The toy world and the model the project trains itself");
  toy->require_subcommand(1);

  auto options = std::make_shared<toy::TrainOptions>();
  auto no_resume = std::make_shared<bool>(false);
  CLI::App* train = toy->add_subcommand("train", "Train the toy model (resumes from the folder's train state)");
  train->add_option("-o,--output", options->output_dir, "folder of toy.safetensors and train_state.safetensors")
      ->capture_default_str();
  train->add_option("--steps", options->steps, "planned training steps")->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  train->add_option("--stop-after", options->stop_after, "stop at this step in this run (train across sessions)")
      ->check(CLI::Range(1, 1000000));
  train->add_option("--batch", options->batch, "images per step")->check(CLI::Range(1, 4096))->capture_default_str();
  train->add_option("--lr", options->learning_rate, "peak learning rate")->check(finite_range(1e-6, 1.0))
      ->capture_default_str();
  train->add_option("--seed", options->seed, "seed of the data, noise and initial weights")->capture_default_str();
  train->add_option("--checkpoint-every", options->checkpoint_every, "steps between checkpoints")
      ->check(CLI::Range(1, 1000000))->capture_default_str();
  train->add_option("--fixed-scenes", options->fixed_scenes,
                    "train on this many scenes, the same every step (a check that the model can fit data)")
      ->check(CLI::Range(1, 4096));
  train->add_flag("--no-resume", *no_resume, "start from scratch even when a train state exists");
  options->bf16_autocast = bf16_support().native();
  train->add_flag("--bf16,!--no-bf16", options->bf16_autocast,
                  "matmuls in bfloat16 (CPU autocast) or float32; default: bfloat16 where its matmul is native, "
                  "here " + describe(bf16_support()));
  train->callback([options, no_resume] {
    options->resume = !*no_resume;
    const toy::TrainReport report = toy::train(*options);
    std::cout << "trained steps " << report.first_step << " to " << report.last_step << " in " << report.seconds
              << " s; final loss " << report.final_loss << "\n";
  });

  add_toy_eval_command(*toy);
  add_toy_probe_command(*toy);
}

}  // namespace untwist
