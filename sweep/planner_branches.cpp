// WSD cooldown branches in the planner: the `branches` cell of a run, and the
// branch runs of every parent (models/spec/wsd.h has the arithmetic).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "models/spec/wsd.h"
#include "sweep/planner_impl.h"

namespace scalelab::sweep::detail {
namespace {

std::string_view trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Budgets of a `branches` cell: a value <= 1 is a fraction of the run's
// tokens, a larger one a token count. Throws CellError.
std::vector<int64_t> parse_budgets(std::string_view text, int64_t run_tokens) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t bar = std::min(text.find('|', start), text.size());
    const std::string_view item = trim(text.substr(start, bar - start));
    const std::optional<double> v = parse_real(item);
    if (!v || !(*v > 0))
      throw CellError(fmt::format("branch budget '{}' is neither a fraction in (0, 1] of the "
                                  "run's tokens nor a token count",
                                  item));
    if (*v > 1 && *v != std::floor(*v))
      throw CellError(fmt::format("branch budget '{}' above 1 is a token count and must be a "
                                  "whole number",
                                  item));
    out.push_back(*v <= 1 ? std::llround(*v * static_cast<double>(run_tokens))
                          : static_cast<int64_t>(*v));
    start = bar + 1;
  }
  return out;
}

}  // namespace

bool Planner::resolve_branches(const Current& cur, int line, spec::RunSpec& r) {
  const CellValue* cell = cur[idx(Col::Branches)];
  if (!cell || trim(cell->text).empty()) return true;
  try {
    for (int64_t t : parse_budgets(cell->text, r.tokens)) {
      if (t > r.tokens)
        throw CellError(fmt::format("branch budget {} tokens is above the run's {}", t, r.tokens));
      r.branches.push_back(spec::whole_steps_tokens(r, t));
    }
  } catch (const CellError& e) {
    errors_.add(line, "branches", e.what());
    return false;
  }
  std::sort(r.branches.begin(), r.branches.end());
  const std::string why = spec::check_branches(r);
  if (!why.empty()) errors_.add(line, "branches", why);
  return why.empty();
}

// Each parent is followed by its branches, so the plan stays in sheet order.
void Planner::add_branch_runs() {
  std::vector<PlannedRun>& runs = plan_.runs;
  const bool any = std::any_of(runs.begin(), runs.end(),
                               [](const PlannedRun& r) { return !r.spec.branches.empty(); });
  if (!any) return;
  std::vector<PlannedRun> out;
  out.reserve(runs.size() * 2);
  for (PlannedRun& parent : runs) {
    std::vector<spec::BranchPoint> points;
    if (!parent.spec.branches.empty()) points = spec::branch_points(parent.spec);
    const int64_t per_step = parent.spec.batch_size() * parent.spec.model.seq_len;
    const PlannedRun model = parent;
    out.push_back(std::move(parent));
    for (const spec::BranchPoint& b : points) {
      PlannedRun br = model;
      br.spec = spec::branch_spec(model.spec, model.row.id, b);
      br.row.spec_json = spec::canonical_json(br.spec);
      br.row.id = spec::run_id_of_canonical(br.row.spec_json);
      br.row.tokens = b.tokens;
      br.row.flops = br.flops_per_token * static_cast<double>(b.tokens);
      br.trained_tokens = (b.steps - b.step) * per_step;
      br.trained_flops = br.flops_per_token * static_cast<double>(br.trained_tokens);
      br.cost = account(br.spec, br.row.params, br.trained_flops, plan_.hw);
      out.push_back(std::move(br));
    }
  }
  runs = std::move(out);
}

}  // namespace scalelab::sweep::detail
