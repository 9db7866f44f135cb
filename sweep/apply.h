// Writing a plan into the database, and what re-planning changed.
//
// Runs are inserted in one transaction; ids already present are left as they
// are (their status, metrics and history), so re-planning is a no-op. Runs of
// the same sweep that the sheet no longer produces are reported, never
// deleted; with `prune`, the pending ones among them are cancelled.
#pragma once

#include <string>
#include <vector>

#include "db/db.h"
#include "sweep/planner.h"

namespace scalelab::sweep {

struct ApplyResult {
  std::vector<std::string> added;  // ids that were new
  size_t existing = 0;             // planned runs already in the database
  std::vector<db::Run> removed;    // runs of plan.sweep that the sheet no longer has
  std::vector<std::string> cancelled;  // pending removed runs cancelled by prune
};

// The runs of plan.sweep in DB that PLAN does not contain.
std::vector<db::Run> removed_runs(db::Database& db, const Plan& plan);
ApplyResult write_plan(db::Database& db, const Plan& plan, bool prune);
// The same, moving the runs out of PLAN instead of copying them (100k runs
// carry ~50 MB of spec JSON); PLAN keeps its sweep name and duplicates.
ApplyResult write_plan(db::Database& db, Plan&& plan, bool prune);

}  // namespace scalelab::sweep
