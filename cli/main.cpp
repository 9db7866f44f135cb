// scalelab: plan, run, status, fit, report (and more) over one SQLite database.

#include <cstdio>
#include <iostream>

#include "cli/command.h"

namespace scalelab::cli {
std::vector<AddCommand>& registry() {
  static std::vector<AddCommand> r;
  return r;
}
}  // namespace scalelab::cli

int main(int argc, char** argv) {
  using namespace scalelab::cli;
  CLI::App app{"scalelab: plan, train and fit scaling-law sweeps of small language models"};
  app.require_subcommand(1);
  Context ctx;
  ctx.self = "/proc/self/exe";
  app.add_option("--db", ctx.db, "SQLite database")->capture_default_str();
  for (AddCommand add : registry()) add(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const InputError& e) {
    std::cerr << "scalelab: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "scalelab: error: " << e.what() << "\n";
    return 1;
  }
  return ctx.rc;
}
