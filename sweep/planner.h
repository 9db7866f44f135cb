// The sweep planner: a sheet in, the exact list of runs out.
//
// Each data row is a block of runs. Its cells are merged with the `defaults`
// rows above it (a row named `defaults` sets the cells it fills for every row
// below it, until another defaults row changes them), then expanded to the
// cartesian product of its list and range cells, `zip:` cells of one group
// varying together (cell syntax: sweep/cell.h, columns: sweep/columns.h).
//
// The token budget of a run is fixed by exactly one of `tokens`,
// `tokens_per_param` (x total parameters, as Chinchilla counts them) or `flops`
// (/ spec::train_flops_per_token: an iso-FLOP row); a row that sets one of them
// replaces the budget its defaults set. Derived tokens are rounded to the
// nearest integer, and a run's FLOPs are recomputed from them, so they match
// what the trainer will do exactly.
//
// A `branches` cell (schedule wsd) makes the run a parent of WSD cooldown
// branches (models/spec/wsd.h): budgets as fractions of the run's tokens
// (values <= 1) or token counts (> 1), rounded up to whole steps. The parent
// trains only the stable phase; each branch becomes a run of its own, planned
// right after its parent, whose row.tokens / row.flops are the (D, C) of the
// point it measures and whose trained_* are its cooldown alone.
// Stages run in the order they first appear; a `gate` cell (the same on every
// row of its stage) is the condition on the stage before that opens it.
//
// A run's id is spec::run_id of its RunSpec: labels (name, stage, priority) do
// not change it, so re-planning a sheet yields the same ids, and two rows that
// describe the same run yield one run (reported as a duplicate).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "db/db.h"
#include "models/spec/run_spec.h"
#include "sweep/accounting.h"
#include "sweep/data_check.h"
#include "sweep/sheet.h"

namespace scalelab::sweep {

struct PlanOptions {
  std::string sweep;       // sweep name; "" = the sheet's file stem
  Hardware hw;             // for memory, GPU-hours and cost
  size_t max_errors = 200;  // listed in full; the rest are counted
};

struct PlannedRun {
  db::Run row;          // id, sweep, stage, name, arch, spec_json, params, tokens, flops, priority
  spec::RunSpec spec;
  int line = 0;         // sheet row the run comes from
  double flops_per_token = 0;
  // What this run itself trains: row.tokens / row.flops for a plain run, the
  // stable phase for a WSD parent, the cooldown for a branch. cost is of these.
  int64_t trained_tokens = 0;
  double trained_flops = 0;
  RunCost cost;
  std::string gate;     // the sheet's gate for entering this run's stage ("" = none)
};

// A run that an earlier row already produced.
struct Duplicate {
  int line = 0, first_line = 0;
  std::string id;
};

// A stage in sheet order (first appearance) with the gate that opens it
// (sweep/gate.h); the first stage has none.
struct StagePlan {
  std::string name, gate;
};

struct Plan {
  std::string sheet;  // path of the sheet
  std::string sweep;
  Hardware hw;
  std::vector<PlannedRun> runs;  // unique, in sheet order
  std::vector<Duplicate> duplicates;
  std::vector<StagePlan> stages;
  std::vector<DataUse> data;  // each data source the runs name, in order of first use
};

// Throws SheetErrors listing every bad cell of the sheet.
Plan plan_sheet(const Sheet& sheet, const PlanOptions& opts = {});
// read_sheet + plan_sheet.
Plan plan_file(const std::string& path, const PlanOptions& opts = {});
// The default sweep name of a sheet: its file name without the extension.
std::string sweep_name_for(const std::string& path);

}  // namespace scalelab::sweep
