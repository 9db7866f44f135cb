// Subcommands of `scalelab`. Each cli/<name>.cpp registers itself with
// SCALELAB_COMMAND, so adding one touches no other file:
//
//   static void add_plan(CLI::App& app, cli::Context& ctx) {
//     auto* sub = app.add_subcommand("plan", "...");
//     sub->callback([&ctx] { ctx.rc = ...; });
//   }
//   SCALELAB_COMMAND(add_plan);
//
// One grammar for all: the global options (--db, -v, -q) go before or after
// the subcommand; an unknown subcommand or option is an error that suggests
// the closest known one; exit codes are the constants below; no stack trace
// ever reaches the terminal (LibTorch's go to the run's log, trimmed).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "db/db.h"

namespace scalelab::cli {

// Exit codes of every subcommand (README, "Exit codes").
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // runtime failure: a run failed, no fit could be made
inline constexpr int kExitBadInput = 2;     // bad flags, sheet or database path; nothing changed
inline constexpr int kExitInterrupted = 3;  // stopped by SIGINT/SIGTERM; everything resumable

struct Context {
  std::string db = "scalelab.db";  // --db, shared by every subcommand
  std::string self;                // path of this executable (for child processes)
  int verbose = 0;                 // -v (repeatable)
  int quiet = 0;                   // -q
  int rc = 0;                      // exit code chosen by the subcommand
};

// Bad user input (sheet, flags, points file): exit code 2 and a message that
// names the file, row and column or field.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Opens the existing database ctx.db; never creates one. A missing file is an
// InputError that suggests a similarly named database in the same folder.
std::unique_ptr<db::Database> open_existing(const Context& ctx, db::OpenMode mode);

// The candidate closest to WORD (a typo, not a different word), or "".
std::string closest(const std::string& word, const std::vector<std::string>& candidates);
// "; did you mean 'X'?" for the closest candidate, or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// Checks --sweep / --stage / --arch values against what the database holds;
// throws InputError naming the value, with a suggestion and what exists.
void check_filter(db::Database& db, const db::RunFilter& f);

// The message of E without a LibTorch backtrace ("Exception raised from ...").
std::string without_backtrace(const std::string& what);

using AddCommand = void (*)(CLI::App&, Context&);
std::vector<AddCommand>& registry();
struct Registrar {
  explicit Registrar(AddCommand f) { registry().push_back(f); }
};

}  // namespace scalelab::cli

#define SCALELAB_COMMAND(fn) static const ::scalelab::cli::Registrar fn##_registrar_(&fn)
