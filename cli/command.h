// Subcommands of `scalelab`. Each cli/<name>.cpp registers itself with
// SCALELAB_COMMAND, so adding one touches no other file:
//
//   static void add_plan(CLI::App& app, cli::Context& ctx) {
//     auto* sub = app.add_subcommand("plan", "...");
//     sub->callback([&ctx] { ctx.rc = ...; });
//   }
//   SCALELAB_COMMAND(add_plan);
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace scalelab::cli {

struct Context {
  std::string db = "scalelab.db";  // --db, shared by every subcommand
  std::string self;                // path of this executable (for child processes)
  int rc = 0;                      // exit code chosen by the subcommand
};

// Bad user input (sheet, flags, points file): exit code 2 and a message that
// names the file, row and column or field.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using AddCommand = void (*)(CLI::App&, Context&);
std::vector<AddCommand>& registry();
struct Registrar {
  explicit Registrar(AddCommand f) { registry().push_back(f); }
};

}  // namespace scalelab::cli

#define SCALELAB_COMMAND(fn) static const ::scalelab::cli::Registrar fn##_registrar_(&fn)
