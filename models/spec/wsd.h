// Warmup-stable-decay (WSD) arithmetic shared by the planner and the trainer:
// where a run's decay starts, and the cooldown branches of a parent run.
//
// A WSD run of S steps warms up linearly, stays at the peak lr, and decays over
// its last K = max(1, round(decay_fraction * S)) steps (train/schedule.h has
// the shapes). Because the lr before step S - K does not depend on S, one long
// stable phase serves every budget (Hägele et al. 2024, arXiv:2405.18392): a
// parent with branches at budgets D_1 < ... < D_k trains only the stable phase,
// up to the largest branch point, checkpointing at every branch point
// b_i = S_i - K_i (S_i = ceil(D_i / batch_tokens)); branch i starts from the
// checkpoint at b_i and trains its K_i decay steps. A branch is, step for step,
// the WSD run of D_i tokens trained straight through (tests/train prove it),
// at the cost of its cooldown only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/spec/run_spec.h"

namespace scalelab::spec {

// Steps of the final decay of a WSD run and the step it starts at.
int64_t wsd_decay_steps(const RunSpec& r);
int64_t wsd_decay_start(const RunSpec& r);

struct BranchPoint {
  int64_t tokens = 0;  // the branch's budget D_i (whole steps)
  int64_t steps = 0;   // S_i
  int64_t step = 0;    // b_i: the parent's step its cooldown starts from
};

// The branch points of a parent (r.branches), by increasing budget.
std::vector<BranchPoint> branch_points(const RunSpec& parent);

// Steps this run trains in all: a parent stops at its last branch point.
int64_t train_steps(const RunSpec& r);
// The step a run starts at when it has no checkpoint of its own: a branch
// starts at its branch point, anything else at 0.
int64_t start_step(const RunSpec& r);

// The spec of the branch of PARENT (whose run id is PARENT_ID) at B: the WSD
// run of B.tokens tokens with the parent's warmup fixed in steps (a fraction
// would resolve against the branch's shorter run), plus its lineage.
RunSpec branch_spec(const RunSpec& parent, const std::string& parent_id, const BranchPoint& b);

// "" when PARENT's branches are usable; otherwise why not (for the planner's
// error at the sheet cell): schedule not wsd, a budget <= 0 or above the run's
// tokens, two budgets with the same number of steps, a branch point at step 0,
// or warmup not finished by the first branch point.
std::string check_branches(const RunSpec& parent);

// Budgets rounded up to whole optimiser steps, as the trainer trains them.
int64_t whole_steps_tokens(const RunSpec& r, int64_t tokens);

}  // namespace scalelab::spec
