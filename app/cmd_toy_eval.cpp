// `untwist toy eval`: the fixed benchmark for every mode, sweeps of the
// untwisted knobs and blocks, a table, CSV, JSON and the copying-vs-style plot.
#include <cstdio>
#include <filesystem>
#include <map>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/line_plot.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "toy/evaluation.h"
#include "toy/toy_sampler.h"
#include "toy_paths.h"

namespace untwist {

namespace {

struct EvalOptions {
  std::string model, output_dir = "toy-eval";
  int sets = 12, targets = 5, steps = toy::kDefaultSteps;
  bool no_sweep = false;
};

struct Row {
  std::string name;
  ShareSettings settings;
  toy::Scores scores;
};

// A mode at its defaults: the paper's knobs, the toy model's shared blocks.
ShareSettings with_mode(ShareMode mode) {
  ShareSettings settings;
  settings.mode = mode;
  settings.blocks = SharePlan::parse(toy::kDefaultSharedBlocks);
  return settings;
}

nlohmann::json scores_json(const Row& row) {
  return {{"copy_iou", row.scores.copy_iou},
          {"shape_accuracy", row.scores.shape_accuracy},
          {"style_distance", row.scores.style_distance},
          {"object_rate", row.scores.object_rate},
          {"pairs", row.scores.pairs},
          {"blocks", row.settings.blocks.spec()},
          {"s_hf", {row.settings.s_hf.start, row.settings.s_hf.end}},
          {"s_lf", {row.settings.s_lf.start, row.settings.s_lf.end}},
          {"beta", row.settings.beta}};
}

// Runs settings on the benchmark, printing and keeping each row.
class Evaluation {
 public:
  explicit Evaluation(const EvalOptions& options)
      : options_(options), model_(toy::load_toy(find_toy_model(options.model))),
        sets_(toy::benchmark(options.sets, options.targets)) {}

  const Row& run(const std::string& name, const ShareSettings& settings) {
    rows_.push_back({name, settings, toy::evaluate(model_, sets_, &settings, options_.steps)});
    const toy::Scores& scores = rows_.back().scores;
    std::printf("%-34s copy %.3f  shape %.3f  style %.3f  objects %.2f\n", name.c_str(), scores.copy_iou,
                scores.shape_accuracy, scores.style_distance, scores.object_rate);
    std::fflush(stdout);
    return rows_.back();
  }
  const std::vector<Row>& rows() const { return rows_; }

  // The two-reference case for `settings` with weights first:second.
  nlohmann::json two_references(const std::string& name, ShareSettings settings, double first, double second) const {
    settings.reference_weights = {first, second};
    const ShareSettings* share = settings.mode == ShareMode::None ? nullptr : &settings;
    const toy::TwoReferenceScores scores = toy::evaluate_two_references(model_, sets_, share, options_.steps);
    std::printf("%-34s copy %.3f / %.3f  style %.3f / %.3f  shape %.3f  (first / second reference)\n", name.c_str(),
                scores.first.copy_iou, scores.second.copy_iou, scores.first.style_distance,
                scores.second.style_distance, scores.first.shape_accuracy);
    std::fflush(stdout);
    const auto side = [](const toy::Scores& s) {
      return nlohmann::json{{"copy_iou", s.copy_iou}, {"style_distance", s.style_distance}};
    };
    return {{"weights", {first, second}},      {"first", side(scores.first)},
            {"second", side(scores.second)}, {"shape_accuracy", scores.first.shape_accuracy},
            {"object_rate", scores.first.object_rate}, {"pairs", scores.first.pairs}};
  }

  // The copying meter for a reference image of `side` pixels.
  nlohmann::json meter_copying(const std::string& name, const ShareSettings& settings, int64_t side) const {
    const CopyReading means = toy::meter_copying(model_, sets_, settings, options_.steps, side);
    std::printf("%-34s same position %.4f  3x3 %.4f  all reference tokens %.4f\n", name.c_str(), means.same_position,
                means.neighbourhood, means.reference_total);
    std::fflush(stdout);
    return {{"same_position", means.same_position},
            {"neighbourhood", means.neighbourhood},
            {"reference_total", means.reference_total}};
  }

 private:
  const EvalOptions& options_;
  toy::ToyModel model_;
  std::vector<toy::BenchmarkSet> sets_;
  std::vector<Row> rows_;
};

// The best untwisted setting: from the default, sweeps of the blocks, then
// s_hf, s_lf and beta around the best so far. A setting is judged by copying
// and style relative to none and full, among settings that keep the content
// and draw objects (an empty target copies nothing).
Row sweep_untwisted(Evaluation& evaluation, const Row& none, const Row& full, Row best) {
  auto score = [&](const Row& r) {
    const double copy = (r.scores.copy_iou - none.scores.copy_iou) /
                        std::max(1e-6, full.scores.copy_iou - none.scores.copy_iou);
    return copy + r.scores.style_distance / std::max(1e-6, none.scores.style_distance);
  };
  auto consider = [&](const Row& r) {
    const bool keeps_content = r.scores.shape_accuracy >= none.scores.shape_accuracy - 0.1 &&
                               r.scores.object_rate >= none.scores.object_rate - 0.1;
    if (keeps_content && score(r) < score(best)) best = r;
  };
  for (const char* blocks : {"single", "double"}) {
    ShareSettings s = with_mode(ShareMode::Full);
    s.blocks = SharePlan::parse(blocks);
    evaluation.run(std::string("full, blocks ") + blocks, s);
    s.mode = ShareMode::Untwisted;
    consider(evaluation.run(std::string("untwisted, blocks ") + blocks, s));
  }
  char name[96];
  const ShareSettings base = best.settings;
  for (const auto& [start, end] : std::vector<std::pair<double, double>>{{0.1, 0.5}, {0.5, 1.0}}) {
    ShareSettings s = base;
    s.s_hf = {start, end};
    std::snprintf(name, sizeof(name), "untwisted, %s, s_hf %.2g:%.2g", s.blocks.spec().c_str(), start, end);
    consider(evaluation.run(name, s));
  }
  for (const auto& [start, end] : std::vector<std::pair<double, double>>{{1.0, 1.0}, {1.2, 2.0}}) {
    ShareSettings s = best.settings;
    s.s_lf = {start, end};
    std::snprintf(name, sizeof(name), "untwisted, %s, s_lf %.2g:%.2g", s.blocks.spec().c_str(), start, end);
    consider(evaluation.run(name, s));
  }
  for (double beta : {1.0, 4.0}) {
    ShareSettings s = best.settings;
    s.beta = beta;
    std::snprintf(name, sizeof(name), "untwisted, %s, beta %.2g", s.blocks.spec().c_str(), beta);
    consider(evaluation.run(name, s));
  }
  return best;
}

// eval.json (the modes, the best untwisted setting and `result`'s cases), eval.csv (every row)
// and tradeoff.png (copying against style; the first `mode_rows` rows are the
// modes, the rest sweeps).
void write_results(const EvalOptions& options, const std::vector<Row>& rows, size_t mode_rows, const Row& best,
                   nlohmann::json result) {
  std::filesystem::create_directories(options.output_dir);
  for (size_t i = 0; i < mode_rows; ++i) result[rows[i].name] = scores_json(rows[i]);
  result["untwisted_best"] = scores_json(best);
  result["untwisted_best"]["name"] = best.name;
  result["benchmark"] = {{"pairs", options.sets * options.targets}, {"steps", options.steps}};
  write_file_atomically(options.output_dir + "/eval.json", result.dump(2) + "\n");
  std::string csv = "name,mode,blocks,s_hf_start,s_hf_end,s_lf_start,s_lf_end,beta,copy_iou,shape_accuracy,style_distance,"
                    "object_rate\n";
  LinePlot plot;
  plot.title = "toy benchmark: copying against style transfer";
  plot.x_label = "copying: mask IoU of target with reference";
  plot.y_label = "style distance to the reference";
  int colour = 2;
  Series sweep{"untwisted and full sweeps", {}, {}, 8, 2.0, true};
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    char line[512];
    std::snprintf(line, sizeof(line), "\"%s\",%s,%s,%g,%g,%g,%g,%g,%.4f,%.4f,%.4f,%.4f\n", r.name.c_str(),
                  share_mode_name(r.settings.mode), r.settings.blocks.spec().c_str(), r.settings.s_hf.start,
                  r.settings.s_hf.end, r.settings.s_lf.start, r.settings.s_lf.end, r.settings.beta, r.scores.copy_iou,
                  r.scores.shape_accuracy, r.scores.style_distance, r.scores.object_rate);
    csv += line;
    if (i < mode_rows) {
      plot.series.push_back({r.name, {r.scores.copy_iou}, {r.scores.style_distance}, colour++, 2.0, true});
    } else {
      sweep.x.push_back(r.scores.copy_iou);
      sweep.y.push_back(r.scores.style_distance);
    }
  }
  if (!sweep.x.empty()) plot.series.push_back(sweep);
  write_file_atomically(options.output_dir + "/eval.csv", csv);
  write_line_plot(options.output_dir + "/tradeoff.png", plot);
}

void run_eval(const EvalOptions& options) {
  Evaluation evaluation(options);
  std::printf("%d pairs (%d references x %d content-only targets), %d steps\n", options.sets * options.targets,
              options.sets, options.targets, options.steps);
  std::map<ShareMode, Row> by_mode;
  for (ShareMode mode : {ShareMode::None, ShareMode::Full, ShareMode::Untwisted, ShareMode::StyleAligned,
                         ShareMode::AlignedGen}) {
    by_mode.emplace(mode, evaluation.run(share_mode_name(mode), with_mode(mode)));
  }
  const size_t mode_rows = evaluation.rows().size();  // the rows after these are sweeps
  Row best = by_mode.at(ShareMode::Untwisted);
  if (!options.no_sweep) {
    best = sweep_untwisted(evaluation, by_mode.at(ShareMode::None), by_mode.at(ShareMode::Full), best);
  }
  // References as users bring them: two weighted ones, and one image at the
  // targets' size against one 1.5 times it (a grid of its own, centred).
  nlohmann::json cases;
  const ShareSettings full = with_mode(ShareMode::Full);
  cases["two_references"]["none"] = evaluation.two_references("two references, none", with_mode(ShareMode::None), 1, 1);
  for (const auto& [first, second] : std::vector<std::pair<double, double>>{{1, 1}, {3, 1}}) {
    const std::string weights = std::to_string(static_cast<int>(first)) + ":" + std::to_string(static_cast<int>(second));
    cases["two_references"]["full " + weights] =
        evaluation.two_references("two references " + weights + ", full", full, first, second);
    cases["two_references"]["untwisted " + weights] =
        evaluation.two_references("two references " + weights + ", " + best.name, best.settings, first, second);
  }
  for (const int64_t side : {int64_t{32}, int64_t{48}}) {
    const std::string size = std::to_string(side) + "x" + std::to_string(side);
    cases["reference_size_meter"][size]["full"] = evaluation.meter_copying("reference " + size + ", full", full, side);
    cases["reference_size_meter"][size]["untwisted"] =
        evaluation.meter_copying("reference " + size + ", " + best.name, best.settings, side);
  }
  write_results(options, evaluation.rows(), mode_rows, best, cases);
  std::cout << "best untwisted: " << best.name << "\nwrote " << options.output_dir << "/eval.json, eval.csv, tradeoff.png\n";
}

}  // namespace

void add_toy_eval_command(CLI::App& toy) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* command = toy.add_subcommand("eval", "The fixed benchmark: every mode and sweeps, in numbers");
  add_toy_model_option(*command, options->model);
  command->add_option("-o,--output", options->output_dir, "output folder")->capture_default_str();
  command->add_option("--sets", options->sets, "references")->check(CLI::Range(1, 1000))->capture_default_str();
  command->add_option("--targets", options->targets, "content-only targets per reference")
      ->check(CLI::Range(1, 64))->capture_default_str();
  command->add_option("--steps", options->steps, "sampling steps")->check(CLI::Range(1, 1000))->capture_default_str();
  command->add_flag("--no-sweep", options->no_sweep, "only the five modes at their defaults");
  command->callback([options] { run_eval(*options); });
}

}  // namespace untwist
