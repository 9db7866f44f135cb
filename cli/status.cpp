// scalelab status: what the database holds, per sweep and status, and per run.
#include <fmt/format.h>

#include <map>

#include "cli/command.h"
#include "db/db.h"
#include "db/lineage.h"

namespace scalelab::cli {
namespace {

std::string human(double x) {
  const char* units[] = {"", "k", "M", "B", "T"};
  int u = 0;
  while (x >= 1000 && u < 4) {
    x /= 1000;
    ++u;
  }
  return fmt::format(x < 10 && u > 0 ? "{:.1f}{}" : "{:.0f}{}", x, units[u]);
}

void print_runs(db::Database& db, const db::RunFilter& f) {
  std::map<std::string, db::Metric> last;
  for (auto& m : db.last_metrics()) last[m.run_id] = m;
  std::map<std::string, db::Lineage> branches;
  for (db::Lineage& l : db::lineages(db))
    if (!l.parent_id.empty()) branches.emplace(l.id, std::move(l));
  fmt::print("{:<16} {:<9} {:<34} {:>7} {:>7} {:>9} {:>9} {:>8}\n", "run", "status", "arch",
             "params", "tokens", "flops", "loss", "done");
  for (const auto& r : db.list_runs(f)) {
    auto it = last.find(r.id);
    std::string loss = "-", done = "-";
    if (r.final_loss) loss = fmt::format("{:.4f}", *r.final_loss);
    else if (it != last.end() && it->second.train_loss)
      loss = fmt::format("{:.4f}", *it->second.train_loss);
    if (it != last.end() && r.tokens > 0)
      done = fmt::format("{:.0f}%", 100.0 * it->second.tokens / r.tokens);
    fmt::print("{:<16} {:<9} {:<34} {:>7} {:>7} {:>9.2e} {:>9} {:>8}\n", r.id,
               db::to_string(r.status), r.arch.substr(0, 34), human(r.params), human(r.tokens),
               r.flops, loss, done);
    if (r.status == db::RunStatus::Failed && !r.error.empty())
      fmt::print("    error: {}\n", r.error.substr(0, r.error.find('\n')));
    if (auto l = branches.find(r.id); l != branches.end() && r.status == db::RunStatus::Pending &&
                                      !db::branch_point(db, l->second.parent_id, l->second.branch_step))
      fmt::print("    WSD branch: waits for run {} to checkpoint step {}\n", l->second.parent_id,
                 l->second.branch_step);
  }
}

void add_status(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("status", "Show runs per sweep and status");
  auto runs = std::make_shared<bool>(false);
  auto sweep = std::make_shared<std::string>();
  sub->add_flag("--runs", *runs, "list every run with its last loss");
  sub->add_option("--sweep", *sweep, "only this sweep");
  sub->callback([&ctx, runs, sweep] {
    db::Database db(ctx.db);
    std::map<std::string, std::map<std::string, int64_t>> table;
    for (auto& c : db.status_counts())
      if (sweep->empty() || c.sweep == *sweep) table[c.sweep][std::string(db::to_string(c.status))] += c.n;
    if (table.empty()) {
      fmt::print("{}: no runs (plan a sheet with `scalelab plan SHEET`)\n", ctx.db);
      return;
    }
    fmt::print("{:<24} {:>8} {:>8} {:>8} {:>8} {:>10}\n", "sweep", "pending", "running", "done",
               "failed", "cancelled");
    for (auto& [name, c] : table)
      fmt::print("{:<24} {:>8} {:>8} {:>8} {:>8} {:>10}\n", name, c["pending"], c["running"],
                 c["done"], c["failed"], c["cancelled"]);
    if (*runs) {
      db::RunFilter f;
      if (!sweep->empty()) f.sweep = *sweep;
      fmt::print("\n");
      print_runs(db, f);
    }
  });
}
SCALELAB_COMMAND(add_status);

}  // namespace
}  // namespace scalelab::cli
