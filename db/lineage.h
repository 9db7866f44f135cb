// WSD cooldown branches in the database (models/spec/wsd.h has the maths).
//
// A branch is a run of its own (own id, status, attempts, metrics): any
// worker can claim it, and it resumes from its own checkpoint like any run.
// Its lineage lives in its spec (branch_of, branch_step) and is exposed as the
// generated columns runs.parent_id and runs.branch_step (schema step 2), so it
// can never disagree with the run's identity. A parent records each branch
// point it has checkpointed in branch_points; a pending branch is claimable
// only once its point is recorded (Database::claim_next_run / claim_run).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/db.h"

namespace scalelab::db {

// The SQL condition (on table `runs`) that a run may be claimed: not a
// branch, or its parent has recorded the checkpoint the branch starts from.
extern const char* const kBranchReady;
// The same condition for a query that names the runs table AS (e.g. "r").
std::string branch_ready_sql(const std::string& as);

struct BranchPointRow {
  std::string parent_id;
  int64_t step = 0;    // optimiser steps done at the checkpoint
  int64_t tokens = 0;  // tokens consumed
  std::string path;    // the checkpoint file
  std::string created_at;
};

// Upserts: a parent that resumes from an earlier checkpoint writes the same
// point again (the same state: training is a function of seed and step).
void record_branch_point(Database& db, const BranchPointRow& p);
std::optional<BranchPointRow> branch_point(Database& db, const std::string& parent_id,
                                           int64_t step);

struct Lineage {
  std::string id;
  std::string parent_id;   // "" unless a branch
  int64_t branch_step = 0;
  bool is_parent = false;  // its spec lists branches: it trains only a stable phase
};
// Every run that is a branch or a parent.
std::vector<Lineage> lineages(Database& db);

// Pending branches (matching F) that can still become claimable: their parent
// is running, or their point is already recorded. A scheduler keeps polling
// while there are some instead of stopping.
int64_t waiting_branches(Database& db, const RunFilter& f = {});

}  // namespace scalelab::db
