// What `scalelab plan` shows: the expanded runs (table, CSV, JSON) and the
// budget summary by stage and architecture, in units a researcher reads at a
// glance (125M params, 2.5e18 FLOPs, GPU-hours, dollars).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "sweep/planner.h"

namespace scalelab::sweep {

std::string human_count(double v);  // 7, 20k, 125M, 6.74B
std::string human_flops(double v);   // 2.5e18
std::string human_bytes(double v);   // 512 MB, 12.3 GB
std::string human_hours(double v);   // 0.12, 12.3, 1,234
std::string human_money(double v);   // $0.25, $1,234

struct BudgetRow {
  std::string stage, arch;  // arch "" on a stage subtotal; both "" on the total
  int64_t runs = 0;
  int64_t min_params = 0, max_params = 0;
  double tokens = 0, flops = 0, gpu_hours = 0, cost = 0;
  double max_memory = 0;  // bytes, largest run of the group
  int64_t over_memory = 0;  // runs above hw.gpu_memory
  // WSD parents and their branches (tokens, flops, gpu_hours above count what
  // each run trains itself): what they spend, and what separate from-scratch
  // runs to the branches' budgets would cost instead.
  int64_t parents = 0, branches = 0;
  double wsd_flops = 0, wsd_gpu_hours = 0, scratch_flops = 0, scratch_gpu_hours = 0;
  void add(const PlannedRun& r);
};

struct Budget {
  // Stages in order of first appearance; each stage's archs in that order,
  // then the stage subtotal (arch == "") when the stage has several archs.
  std::vector<BudgetRow> rows;
  BudgetRow total;
};
Budget budget(const Plan& plan);

void print_budget(std::ostream& os, const Plan& plan, const Budget& b);
void print_runs_table(std::ostream& os, const Plan& plan);
// The expanded sheet: one row per run with every identity column explicit and
// the derived columns after them; read back, it plans to the same run ids.
void write_expanded(std::ostream& os, const Plan& plan, char delimiter = ',');
nlohmann::json plan_json(const Plan& plan, const Budget& b);

}  // namespace scalelab::sweep
