// scalelab: plan, run, status, fit, report (and more) over one SQLite database.
//
// The grammar is checked here, before and after CLI11 parses: an unknown
// subcommand or option is exit code 2 with the closest known name; CLI11's own
// exit codes (105, 109, ...) never leak out.
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli/command.h"

#ifndef SCALELAB_VERSION
#define SCALELAB_VERSION "unknown"
#endif

namespace scalelab::cli {
std::vector<AddCommand>& registry() {
  static std::vector<AddCommand> r;
  return r;
}

namespace {

std::vector<std::string> subcommand_names(CLI::App& app) {
  std::vector<std::string> out;
  for (CLI::App* s : app.get_subcommands([](CLI::App*) { return true; })) out.push_back(s->get_name());
  return out;
}

std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* o : app.get_options()) {
    for (const std::string& l : o->get_lnames()) out.push_back("--" + l);
    for (const std::string& s : o->get_snames()) out.push_back("-" + s);
  }
  return out;
}

// The first word that is not an option (or --db's value) must name a subcommand.
void check_subcommand(CLI::App& app, int argc, char** argv) {
  const std::vector<std::string> subs = subcommand_names(app);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--db") {
      ++i;
      continue;
    }
    if (a.empty() || a[0] == '-') continue;
    for (const std::string& s : subs)
      if (s == a) return;
    throw InputError("unknown command '" + a + "'" + did_you_mean(a, subs) +
                     " (scalelab --help lists them)");
  }
}

// "The following arguments were not expected: --stale-afte 3" -> a suggestion
// from the options of the subcommand given (and the global ones).
std::string explain_extras(CLI::App& app, const std::string& what) {
  std::vector<std::string> names = option_names(app);
  std::string where = "scalelab";
  for (CLI::App* s : app.get_subcommands()) {
    const auto more = option_names(*s);
    names.insert(names.end(), more.begin(), more.end());
    where += " " + s->get_name();
  }
  std::istringstream words(what.substr(what.find(':') + 1));
  std::string msg;
  for (std::string w; words >> w;) {
    if (w.empty() || w[0] != '-') continue;
    const std::string flag = w.substr(0, w.find('='));
    msg += (msg.empty() ? "" : "\n") + ("unknown option '" + flag + "' for " + where) +
           did_you_mean(flag, names);
  }
  if (msg.empty()) msg = what;
  return msg + " (" + where + " --help lists the options)";
}

std::string self_path() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("scalelab");
}

// Errors quote their input (a cell, a path, a field); a 50 MB cell once made a
// 100 MB message. Each line and the number of lines stay readable.
std::string readable(const std::string& what) {
  constexpr size_t kLine = 1000, kLines = 250;
  std::string out;
  size_t lines = 0, start = 0;
  while (start <= what.size()) {
    size_t end = what.find('\n', start);
    if (end == std::string::npos) end = what.size();
    if (++lines > kLines) {
      out += "\n... (" + std::to_string(what.size() - start) + " more characters)";
      break;
    }
    if (lines > 1) out += '\n';
    const size_t n = end - start;
    out += what.substr(start, std::min(n, kLine));
    if (n > kLine) out += "... (" + std::to_string(n - kLine) + " more characters)";
    start = end + 1;
  }
  return out;
}

}  // namespace
}  // namespace scalelab::cli

int main(int argc, char** argv) {
  using namespace scalelab::cli;
  CLI::App app{"scalelab: plan, train and fit scaling-law sweeps of small language models"};
  app.require_subcommand(1);
  // Subcommands inherit this: options they do not know fall through to here,
  // so `scalelab run --db X` and `scalelab --db X run` are the same.
  app.fallthrough();
  app.footer("Exit codes: 0 ok, 1 runtime failure, 2 bad input (nothing changed), "
             "3 interrupted (resumable).");
  Context ctx;
  ctx.self = self_path();
  app.add_option("--db", ctx.db, "SQLite database")->capture_default_str();
  app.add_flag("-v,--verbose", ctx.verbose, "more output (repeatable)");
  app.add_flag("-q,--quiet", ctx.quiet, "less output: errors and results only");
  app.add_flag_callback(
      "--version",
      [] {
        std::cout << "scalelab " << SCALELAB_VERSION << "\n";
        throw CLI::Success();
      },
      "print the version and exit");
  for (AddCommand add : registry()) add(app, ctx);
  try {
    check_subcommand(app, argc, argv);
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // also --help and --help-all (CallForHelp is a Success)
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    std::cerr << "scalelab: error: " << explain_extras(app, e.what()) << "\n";
    return kExitBadInput;
  } catch (const CLI::ParseError& e) {
    std::cerr << "scalelab: error: " << readable(e.what()) << " (scalelab --help)\n";
    return kExitBadInput;
  } catch (const InputError& e) {
    std::cerr << "scalelab: error: " << readable(e.what()) << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "scalelab: error: " << readable(without_backtrace(e.what())) << "\n";
    return kExitFailure;
  }
  return ctx.rc;
}
