// Helpers shared by the subcommands (cli/command.h).
#include <filesystem>
#include <set>

#include "cli/command.h"
#include "sweep/columns.h"

namespace scalelab::cli {

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string& c : candidates) {
    const size_t d = sweep::edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string c = closest(word, candidates);
  return c.empty() ? "" : "; did you mean '" + c + "'?";
}

std::unique_ptr<db::Database> open_existing(const Context& ctx, db::OpenMode mode) {
  namespace fs = std::filesystem;
  if (ctx.db != ":memory:" && !fs::exists(ctx.db)) {
    const fs::path p(ctx.db);
    const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    std::vector<std::string> dbs;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".db" || e.path().extension() == ".sqlite")
        dbs.push_back((p.has_parent_path() ? e.path() : e.path().filename()).string());
    std::string hint = did_you_mean(ctx.db, dbs);
    if (hint.empty()) hint = " (plan a sheet into it first: scalelab --db " + ctx.db + " plan SHEET)";
    throw InputError("no database at " + ctx.db + hint);
  }
  try {
    return std::make_unique<db::Database>(ctx.db, mode);
  } catch (const std::runtime_error& e) {
    throw InputError(e.what());
  }
}

void check_filter(db::Database& db, const db::RunFilter& f) {
  std::set<std::string> sweeps, stages, archs;
  for (const db::StageCount& c : db.stage_counts()) {
    sweeps.insert(c.sweep);
    if (!f.sweep || c.sweep == *f.sweep) {
      stages.insert(c.stage);
      archs.insert(c.arch);
    }
  }
  auto check = [](const char* flag, const std::optional<std::string>& v,
                  const std::set<std::string>& have) {
    if (!v || have.count(*v)) return;
    const std::vector<std::string> list(have.begin(), have.end());
    std::string known;
    for (size_t i = 0; i < list.size() && i < 8; ++i) known += (i ? ", " : "") + list[i];
    if (list.size() > 8) known += ", ...";
    std::string hint = did_you_mean(*v, list);
    throw InputError(std::string(flag) + ": no runs with '" + *v + "'" +
                     (hint.empty() ? " (the database has: " + (known.empty() ? "none" : known) + ")"
                                   : hint));
  };
  check("--sweep", f.sweep, sweeps);
  check("--stage", f.stage, stages);
  check("--arch", f.arch, archs);
}

std::string without_backtrace(const std::string& what) {
  std::string s = what.substr(0, what.find("\nException raised from"));
  s = s.substr(0, s.find("\nframe #"));
  return s;
}

}  // namespace scalelab::cli
