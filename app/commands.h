// Each subcommand registers its options and its action on the main app.
#pragma once
#include <CLI/CLI.hpp>

namespace untwist {

void add_dit_command(CLI::App& app);
void add_ae_command(CLI::App& app);
void add_te_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_style_command(CLI::App& app);
void add_invert_command(CLI::App& app);
void add_toy_command(CLI::App& app);
void add_toy_eval_command(CLI::App& toy);
void add_toy_probe_command(CLI::App& toy);
void add_demo_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_analyze_command(CLI::App& app);
void add_analyze_attention_command(CLI::App& analyze);

}  // namespace untwist
