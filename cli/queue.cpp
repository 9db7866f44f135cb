// scalelab retry | requeue | cancel: change the state of runs by hand.
//   retry   failed / diverged (/ cancelled) -> pending, retry budget reset
//   requeue running -> pending now (a node known lost; its holder is fenced off)
//   cancel  pending / failed / diverged (/ running) -> cancelled
// Runs are named by id (or a unique prefix of 6+ characters), or selected by
// --sweep / --stage / --arch and status flags.
#include <fmt/format.h>

#include <map>
#include <set>

#include "cli/command.h"

namespace scalelab::cli {
namespace {

using db::RunStatus;

struct QueueArgs {
  std::vector<std::string> ids;
  std::string sweep, stage, arch;
  bool failed = false, diverged = false, cancelled = false, pending = false, running = false;
};

enum class Verb { Retry, Requeue, Cancel };

// The statuses VERB changes, narrowed by the flags given (none: the defaults).
std::set<RunStatus> statuses(Verb v, const QueueArgs& a, bool named) {
  std::set<RunStatus> flags;
  if (a.failed) flags.insert(RunStatus::Failed);
  if (a.diverged) flags.insert(RunStatus::Diverged);
  if (a.cancelled) flags.insert(RunStatus::Cancelled);
  if (a.pending) flags.insert(RunStatus::Pending);
  if (a.running) flags.insert(RunStatus::Running);
  switch (v) {
    case Verb::Retry:
      if (flags.empty()) flags = {RunStatus::Failed, RunStatus::Diverged};
      if (named) flags.insert(RunStatus::Cancelled);
      return flags;
    case Verb::Requeue: return {RunStatus::Running};
    case Verb::Cancel:
      if (flags.empty()) flags = {RunStatus::Pending, RunStatus::Failed, RunStatus::Diverged};
      if (named || a.running) flags.insert(RunStatus::Running);
      return flags;
  }
  return flags;
}

std::vector<db::Run> resolve(db::Database& db, const QueueArgs& a) {
  db::RunFilter f;
  if (!a.sweep.empty()) f.sweep = a.sweep;
  if (!a.stage.empty()) f.stage = a.stage;
  if (!a.arch.empty()) f.arch = a.arch;
  check_filter(db, f);
  std::vector<db::Run> all = db.list_runs(f);
  if (a.ids.empty()) return all;
  std::vector<db::Run> out;
  for (const std::string& id : a.ids) {
    std::vector<const db::Run*> hits;
    for (const db::Run& r : all)
      if (r.id == id || (id.size() >= 6 && r.id.compare(0, id.size(), id) == 0)) hits.push_back(&r);
    if (hits.size() != 1) {
      std::vector<std::string> ids;
      for (const db::Run& r : all) ids.push_back(r.id);
      throw InputError(hits.empty() ? "no run '" + id + "'" + did_you_mean(id, ids)
                                    : "'" + id + "' matches " + std::to_string(hits.size()) +
                                          " runs; give more of the id");
    }
    out.push_back(*hits[0]);
  }
  return out;
}

int act(const Context& ctx, Verb v, const QueueArgs& a) {
  const bool named = !a.ids.empty();
  const bool selected = !a.sweep.empty() || !a.stage.empty() || !a.arch.empty() || a.failed ||
                        a.diverged || a.cancelled || a.pending || a.running;
  const char* verb = v == Verb::Retry ? "retry" : v == Verb::Requeue ? "requeue" : "cancel";
  if (!named && !selected)
    throw InputError(std::string(verb) + ": name runs by id, or select them (--sweep, --failed, ...)");
  auto db = open_existing(ctx, db::OpenMode::ReadWrite);
  const std::set<RunStatus> from = statuses(v, a, named);
  std::vector<std::string> ids;
  std::map<std::string, int> by_status;
  int refused = 0;
  for (const db::Run& r : resolve(*db, a)) {
    if (from.count(r.status)) {
      ids.push_back(r.id);
      ++by_status[std::string(db::to_string(r.status))];
    } else if (named) {
      fmt::print(stderr, "{}: run {} is {}; left alone\n", verb, r.id, db::to_string(r.status));
      ++refused;
    }
  }
  const int n = v == Verb::Retry     ? db->retry_runs(ids)
                : v == Verb::Requeue ? db->requeue_runs(ids)
                                     : db->cancel_runs(ids, from.count(RunStatus::Running) > 0);
  std::string parts;
  for (const auto& [s, k] : by_status) parts += (parts.empty() ? "" : ", ") + fmt::format("{} {}", k, s);
  fmt::print("{}: {} run{} {}{}\n", verb, n, n == 1 ? "" : "s",
             v == Verb::Cancel ? "cancelled" : "back to pending",
             parts.empty() ? "" : " (" + parts + ")");
  return refused > 0 ? kExitFailure : kExitOk;
}

void add_verb(CLI::App& app, Context& ctx, Verb v, const char* name, const char* help) {
  auto a = std::make_shared<QueueArgs>();
  auto* sub = app.add_subcommand(name, help);
  sub->add_option("runs", a->ids, "run ids (or unique prefixes of 6+ characters)");
  sub->add_option("--sweep", a->sweep, "runs of this sweep");
  sub->add_option("--stage", a->stage, "runs of this stage");
  sub->add_option("--arch", a->arch, "runs of this architecture");
  if (v == Verb::Retry) {
    sub->add_flag("--failed", a->failed, "failed runs (default with a selection: failed, diverged)");
    sub->add_flag("--diverged", a->diverged, "diverged runs");
    sub->add_flag("--cancelled", a->cancelled, "cancelled runs");
  }
  if (v == Verb::Cancel) {
    sub->add_flag("--pending", a->pending, "pending runs (default: pending, failed, diverged)");
    sub->add_flag("--failed", a->failed, "failed runs");
    sub->add_flag("--running", a->running, "running runs too (their trainers stop at the next heartbeat)");
  }
  if (v == Verb::Requeue) sub->add_flag("--running", a->running, "every running run of the selection");
  sub->callback([&ctx, v, a] { ctx.rc = act(ctx, v, *a); });
}

void add_queue(CLI::App& app, Context& ctx) {
  add_verb(app, ctx, Verb::Retry, "retry", "Put failed or diverged runs back to pending");
  add_verb(app, ctx, Verb::Requeue, "requeue",
           "Put running runs back to pending now (their holders are fenced off)");
  add_verb(app, ctx, Verb::Cancel, "cancel", "Cancel runs (pending, failed, diverged; --running too)");
}
SCALELAB_COMMAND(add_queue);

}  // namespace
}  // namespace scalelab::cli
