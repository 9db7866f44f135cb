// scalelab status: what the database holds. Per sweep: runs by state for each
// stage and architecture, stage gates and their verdicts, device-hours spent
// against the planner's GPU-hours, an ETA, the running runs' loss and
// throughput and the failed runs' last error lines. --watch refreshes it.
// Opens the database read-only; never creates one.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "cli/command.h"
#include "cli/stage_gates.h"
#include "db/db.h"
#include "db/lineage.h"
#include "sweep/accounting.h"

namespace scalelab::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_status_signal(int) { g_stop.store(true); }

std::string human(double x) {
  const char* units[] = {"", "k", "M", "B", "T"};
  int u = 0;
  while (x >= 1000 && u < 4) {
    x /= 1000;
    ++u;
  }
  return fmt::format(x < 10 && u > 0 ? "{:.1f}{}" : "{:.0f}{}", x, units[u]);
}

std::string hms(double s) {
  const int64_t t = static_cast<int64_t>(s);
  return fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
}

constexpr db::RunStatus kOrder[] = {db::RunStatus::Pending, db::RunStatus::Running,
                                    db::RunStatus::Done,    db::RunStatus::Failed,
                                    db::RunStatus::Diverged, db::RunStatus::Cancelled};

struct SweepView {
  std::map<std::pair<std::string, std::string>, std::map<db::RunStatus, int64_t>> cells;
  std::map<db::RunStatus, int64_t> total;
  double flops_all = 0, flops_left = 0;
};

std::map<std::string, SweepView> collect(db::Database& db, const std::string& only) {
  std::map<std::string, SweepView> out;
  for (const db::StageCount& c : db.stage_counts()) {
    if (!only.empty() && c.sweep != only) continue;
    SweepView& v = out[c.sweep];
    v.cells[{c.stage, c.arch}][c.status] += c.n;
    v.total[c.status] += c.n;
    if (c.status != db::RunStatus::Cancelled) v.flops_all += c.flops;
    if (c.status == db::RunStatus::Pending || c.status == db::RunStatus::Running)
      v.flops_left += c.flops;
  }
  return out;
}

// Device-hours spent (the runs' own elapsed time), the planner's GPU-hours at
// its default assumptions, and an ETA from the throughput of finished runs.
void print_hours(db::Database& db, const std::string& sweep, const SweepView& v,
                 const std::map<std::string, db::Metric>& last) {
  db::RunFilter f;
  f.sweep = sweep;
  double spent = 0, done_flops = 0, done_s = 0;
  for (const db::Run& r : db.list_runs(f)) {
    auto it = last.find(r.id);
    if (it == last.end() || !it->second.elapsed_s) continue;
    spent += *it->second.elapsed_s;
    if (r.status == db::RunStatus::Done) {
      done_flops += r.flops;
      done_s += *it->second.elapsed_s;
    }
  }
  const sweep::Hardware hw;
  const double planned = v.flops_all / (hw.mfu * hw.peak_flops) / 3600;
  std::string eta = "unknown until a run finishes";
  const int64_t running = v.total.count(db::RunStatus::Running) ? v.total.at(db::RunStatus::Running) : 0;
  if (v.flops_left <= 0) eta = "nothing left";
  else if (done_s > 0 && running > 0)
    eta = hms(v.flops_left / (done_flops / done_s * static_cast<double>(running)));
  fmt::print("  device-hours spent {:.3g} (planner: {:.3g} GPU-h at {:.0f}% MFU of {:.0f} TFLOP/s); "
             "ETA {}\n",
             spent / 3600, planned, hw.mfu * 100, hw.peak_flops / 1e12, eta);
}

void print_table(const SweepView& v) {
  fmt::print("  {:<8} {:<34}", "stage", "arch");
  for (db::RunStatus s : kOrder) fmt::print(" {:>9}", db::to_string(s));
  fmt::print("\n");
  for (const auto& [key, counts] : v.cells) {
    fmt::print("  {:<8} {:<34}", key.first.empty() ? "-" : key.first, key.second.substr(0, 34));
    for (db::RunStatus s : kOrder) fmt::print(" {:>9}", counts.count(s) ? counts.at(s) : 0);
    fmt::print("\n");
  }
}

void print_stages(db::Database& db, const std::string& sweep) {
  for (const db::Stage& s : db.stages(sweep))
    if (const std::string line = describe_stage(s); !line.empty()) fmt::print("  {}\n", line);
}

void print_active(db::Database& db, const std::string& sweep,
                  const std::map<std::string, db::Metric>& last, int verbose) {
  db::RunFilter f;
  f.sweep = sweep;
  for (const db::Run& r : db.list_runs(f)) {
    auto it = last.find(r.id);
    if (r.status == db::RunStatus::Running) {
      std::string at = "starting";
      if (it != last.end()) {
        const db::Metric& m = it->second;
        at = fmt::format("{:.0f}% loss {} {} tok/s", 100.0 * m.tokens / std::max<int64_t>(1, r.tokens),
                         m.train_loss ? fmt::format("{:.4f}", *m.train_loss) : "-",
                         m.tokens_per_s ? human(*m.tokens_per_s) : "-");
      }
      fmt::print("  running  {} {:<28} {} ({})\n", r.id, r.arch.substr(0, 28), at, r.worker);
    } else if ((r.status == db::RunStatus::Failed || r.status == db::RunStatus::Diverged) &&
               !r.error.empty()) {
      fmt::print("  {:<8} {} {:<28} {}\n", db::to_string(r.status), r.id, r.arch.substr(0, 28),
                 r.error.substr(0, r.error.find('\n')));
      // The log's last lines follow the first line of the error.
      size_t pos = r.error.find('\n');
      for (int k = 0; pos != std::string::npos && k < (verbose ? 8 : 3); ++k) {
        const size_t next = r.error.find('\n', pos + 1);
        const std::string line = r.error.substr(pos + 1, next - pos - 1);
        if (!line.empty()) fmt::print("           | {}\n", line);
        pos = next;
      }
    }
  }
}

void print_runs(db::Database& db, const std::string& sweep,
                const std::map<std::string, db::Metric>& last) {
  db::RunFilter f;
  if (!sweep.empty()) f.sweep = sweep;
  std::map<std::string, db::Lineage> branches;
  for (db::Lineage& l : db::lineages(db))
    if (!l.parent_id.empty()) branches.emplace(l.id, std::move(l));
  fmt::print("\n{:<16} {:<9} {:<34} {:>7} {:>7} {:>9} {:>9} {:>8} {:>3} {:>8} {:>5}\n", "run", "status",
             "arch", "params", "tokens", "flops", "loss", "done", "try", "tok/s", "mfu");
  for (const auto& r : db.list_runs(f)) {
    auto it = last.find(r.id);
    std::string loss = "-", done = "-";
    if (r.final_loss) loss = fmt::format("{:.4f}", *r.final_loss);
    else if (it != last.end() && it->second.train_loss)
      loss = fmt::format("{:.4f}", *it->second.train_loss);
    if (it != last.end() && r.tokens > 0)
      done = fmt::format("{:.0f}%", 100.0 * it->second.tokens / r.tokens);
    std::string speed = "-", mfu = "-";
    const auto perf = nlohmann::json::parse(r.perf_json, nullptr, false);
    if (perf.is_object()) {
      if (perf.value("tokens_per_s", 0.0) > 0) speed = human(perf["tokens_per_s"].get<double>());
      if (perf.value("mfu", 0.0) > 0) mfu = fmt::format("{:.0f}%", 100 * perf["mfu"].get<double>());
    }
    fmt::print("{:<16} {:<9} {:<34} {:>7} {:>7} {:>9.2e} {:>9} {:>8} {:>3} {:>8} {:>5}\n", r.id,
               db::to_string(r.status), r.arch.substr(0, 34), human(r.params), human(r.tokens),
               r.flops, loss, done, r.attempts, speed, mfu);
    if (auto l = branches.find(r.id); l != branches.end() && r.status == db::RunStatus::Pending &&
                                      !db::branch_point(db, l->second.parent_id, l->second.branch_step))
      fmt::print("    WSD branch: waits for run {} to checkpoint step {}\n", l->second.parent_id,
                 l->second.branch_step);
  }
}

// One screen of status; false when the database has no runs.
bool print_status(const Context& ctx, db::Database& db, const std::string& sweep, bool runs) {
  const auto views = collect(db, sweep);
  if (views.empty()) {
    fmt::print("{}: no runs{} (plan a sheet with `scalelab plan SHEET`)\n", ctx.db,
               sweep.empty() ? "" : " in sweep " + sweep);
    return false;
  }
  std::map<std::string, db::Metric> last;
  for (auto& m : db.last_metrics()) last[m.run_id] = m;
  for (const auto& [name, v] : views) {
    int64_t n = 0;
    for (const auto& [s, k] : v.total) n += k;
    std::string parts;
    for (db::RunStatus s : kOrder)
      if (v.total.count(s)) parts += (parts.empty() ? "" : ", ") + fmt::format("{} {}", v.total.at(s), db::to_string(s));
    fmt::print("sweep {}: {} runs: {}\n", name, n, parts);
    print_hours(db, name, v, last);
    print_table(v);
    print_stages(db, name);
    if (!ctx.quiet) print_active(db, name, last, ctx.verbose);
  }
  if (runs) print_runs(db, sweep, last);
  return true;
}

bool active(db::Database& db, const std::string& sweep) {
  for (const db::StageCount& c : db.stage_counts())
    if ((sweep.empty() || c.sweep == sweep) &&
        (c.status == db::RunStatus::Pending || c.status == db::RunStatus::Running))
      return true;
  return false;
}

int status(const Context& ctx, const std::string& sweep, bool runs, double watch) {
  auto db = open_existing(ctx, db::OpenMode::ReadOnly);
  if (!sweep.empty()) {
    db::RunFilter f;
    f.sweep = sweep;
    check_filter(*db, f);
  }
  if (watch <= 0) {
    print_status(ctx, *db, sweep, runs);
    return kExitOk;
  }
  struct sigaction sa {};
  sa.sa_handler = on_status_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const bool tty = ::isatty(STDOUT_FILENO);
  while (true) {
    if (tty) fmt::print("\033[H\033[2J");
    fmt::print("{} at {} (every {:g} s; Ctrl-C stops)\n", ctx.db, db::utc_now(), watch);
    print_status(ctx, *db, sweep, runs);
    std::fflush(stdout);
    if (!active(*db, sweep)) return kExitOk;  // nothing left to watch
    for (double t = 0; t < watch && !g_stop.load(); t += 0.1)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (g_stop.load()) return kExitOk;
  }
}

void add_status(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("status", "Show runs per sweep, stage, architecture and state");
  auto runs = std::make_shared<bool>(false);
  auto sweep = std::make_shared<std::string>();
  auto watch = std::make_shared<double>(0);
  sub->add_flag("--runs", *runs, "list every run with its last loss");
  sub->add_option("--sweep", *sweep, "only this sweep");
  sub->add_option("--watch", *watch, "refresh every SECONDS until nothing is pending or running")
      ->expected(0, 1)
      ->default_str("5");
  sub->callback([&ctx, runs, sweep, watch, sub] {
    double every = *watch;
    if (sub->count("--watch") > 0 && every <= 0) every = 5;
    ctx.rc = status(ctx, *sweep, *runs, every);
  });
}
SCALELAB_COMMAND(add_status);

}  // namespace
}  // namespace scalelab::cli
