// untwist: style-aligned image generation with diffusion transformers.
// Exit status: 0 success, 1 bad data (files, tensors), 2 bad usage.
#include <c10/util/Exception.h>

#include <iostream>
#include <new>

#include "commands.h"
#include "io/atomic_file.h"
#include "util/blas_check.h"
#include "util/errors.h"
#include "util/memory.h"
#include "util/threads.h"
#include "untwist_version.h"

namespace {

// "untwist style", "untwist toy train": the deepest subcommand the command line chose.
std::string chosen_command(const CLI::App& app) {
  std::string path = "untwist";
  const CLI::App* current = &app;
  while (current != nullptr) {
    const auto chosen = current->get_subcommands();
    current = chosen.empty() ? nullptr : chosen.front();
    if (current != nullptr) path += " " + current->get_name();
  }
  return path;
}

int usage_error(const CLI::App& app, const std::string& message) {
  const std::string command = chosen_command(app);
  std::cerr << "error: " << message << "\n"
            << "usage: " << command << " [OPTIONS]  (all options: " << command << " --help)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  untwist::restart_with_sleeping_idle_threads(argv);
  untwist::keep_freed_memory_for_reuse();
  untwist::remove_temporary_files_on_interrupt();
  CLI::App app{"untwist: style-aligned image generation with diffusion transformers (FLUX.1)"};
  app.set_version_flag("--version", std::string("untwist ") + UNTWIST_VERSION + " (git " + UNTWIST_GIT_REVISION + ")");
  app.require_subcommand(1);
  app.fallthrough();  // --threads may also follow the subcommand
  int threads = 0;
  app.add_option("--threads", threads, "CPU threads (default: all cores)")->check(CLI::Range(0, 1024));
  untwist::add_dit_command(app);
  untwist::add_ae_command(app);
  untwist::add_te_command(app);
  untwist::add_tokenize_command(app);
  untwist::add_generate_command(app);
  untwist::add_style_command(app);
  untwist::add_invert_command(app);
  untwist::add_toy_command(app);
  untwist::add_demo_command(app);
  untwist::add_serve_command(app);
  untwist::add_analyze_command(app);
  app.parse_complete_callback([&] {
    untwist::set_compute_threads(threads);
    const std::string warning = untwist::slow_blas_warning();
    if (!warning.empty()) std::cerr << warning << "\n";
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion& version) {
    return app.exit(version);
  } catch (const CLI::ParseError& error) {
    return usage_error(app, error.what());
  } catch (const untwist::UsageError& error) {
    return usage_error(app, error.what());
  } catch (const untwist::DataError& error) {
    std::cerr << "error: " << error.what() << "\n";
    return 1;
  } catch (const c10::Error& error) {
    std::cerr << "error: " << error.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "error: out of memory (try smaller images, fewer prompts or --dtype bfloat16)\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << "\n";
    return 1;
  } catch (...) {
    std::cerr << "error: unexpected failure of an unknown kind\n";
    return 1;
  }
  return 0;
}
