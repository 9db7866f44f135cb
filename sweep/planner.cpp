#include "sweep/planner.h"

#include <array>
#include <climits>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>

#include "sweep/planner_impl.h"

namespace scalelab::sweep::detail {

void Planner::map_header() {
  std::array<bool, kNumCols> present{};
  for (const std::string& name : sheet_.columns) {
    std::optional<Col> c = find_column(name);
    if (name.empty()) {
      colmap_.push_back(std::nullopt);  // checked per cell: blank unless data sits under it
      continue;
    }
    if (!c) {
      const std::string hint = suggest_column(name);
      errors_.add(sheet_.header_line, name,
                  "unknown column '" + name + "'" +
                      (hint.empty() ? std::string(" (`scalelab plan --help` lists the known ones)")
                                    : "; did you mean '" + hint + "'?"));
    } else if (present[idx(*c)]) {
      errors_.add(sheet_.header_line, name, "column '" + name + "' appears twice");
      c.reset();
    } else {
      present[idx(*c)] = true;
    }
    colmap_.push_back(c);
  }
  if (!present[idx(Col::Arch)])
    errors_.add(sheet_.header_line, "arch", "missing column 'arch' (every run needs an architecture)");
  if (!present[idx(Col::Tokens)] && !present[idx(Col::TokensPerParam)] && !present[idx(Col::Flops)])
    errors_.add(sheet_.header_line, "tokens",
                "no token budget column: add one of tokens, tokens_per_param, flops");
}

bool is_budget(Col c) {
  return std::find(std::begin(kBudgetCols), std::end(kBudgetCols), c) != std::end(kBudgetCols);
}

Merged Planner::merge(const SheetRow& row, const Merged& defaults, bool& is_defaults) {
  Merged m;
  for (size_t j = 0; j < row.cells.size(); ++j) {
    const std::string& text = row.cells[j];
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    if (j >= colmap_.size() || (!colmap_[j] && sheet_.columns[j].empty())) {
      errors_.add(row.line, "", "cell " + std::to_string(j + 1) + " ('" + text +
                                    "') has no column name in the header");
      continue;
    }
    if (colmap_[j]) m[idx(*colmap_[j])] = Source{text, row.line};
  }
  is_defaults = m[idx(Col::Name)] && m[idx(Col::Name)]->text == "defaults";
  if (is_defaults) return m;
  bool own_budget = false;
  for (Col c : kBudgetCols) own_budget = own_budget || m[idx(c)].has_value();
  for (size_t c = 0; c < kNumCols; ++c) {
    const Col col = static_cast<Col>(c);
    if (m[c] || col == Col::Name || (own_budget && is_budget(col))) continue;
    m[c] = defaults[c];
  }
  return m;
}

bool Planner::parse(const Merged& m, Parsed& p) {
  bool ok = true;
  for (size_t c = 0; c < kNumCols; ++c) {
    if (!m[c]) continue;
    const ColumnDef& def = column(static_cast<Col>(c));
    if (def.role == ColRole::Output) continue;
    try {
      p[c] = parse_cell(m[c]->text, def.kind);
      if (def.col == Col::Priority) p[c]->values[0].i = parse_int(m[c]->text);
      if (def.col == Col::Schedule)
        for (const CellValue& v : p[c]->values)
          if (v.text != "cosine" && v.text != "wsd" && v.text != "constant")
            throw CellError("unknown schedule '" + v.text + "' (cosine, wsd, constant)");
      if (def.col == Col::DecayShape)
        for (const CellValue& v : p[c]->values)
          if (v.text != "linear" && v.text != "cosine" && v.text != "1-sqrt")
            throw CellError("unknown decay_shape '" + v.text + "' (linear, cosine, 1-sqrt)");
    } catch (const CellError& e) {
      errors_.add(m[c]->line, std::string(def.name), e.what());
      ok = false;
    }
  }
  return ok;
}

bool Planner::check_budget(const SheetRow& row, const Merged& m) {
  std::vector<Col> set;
  for (Col c : kBudgetCols)
    if (m[idx(c)]) set.push_back(c);
  if (set.size() == 1) return true;
  if (set.empty()) {
    errors_.add(row.line, "tokens", "no token budget: set one of tokens, tokens_per_param, flops");
    return false;
  }
  std::string names;
  for (size_t i = 0; i < set.size(); ++i)
    names += (i == 0 ? "" : i + 1 == set.size() ? " and " : ", ") + name_of(set[i]);
  errors_.add(m[idx(set.back())]->line, name_of(set.back()),
              "conflicting token budgets: " + names + (set.size() == 2 ? " are both" : " are all") +
                  " set; give exactly one of tokens, tokens_per_param, flops");
  return false;
}

bool Planner::make_axes(const Parsed& p, const Merged& m, std::vector<Axis>& axes) {
  std::map<std::string, size_t> zip_axis;
  bool ok = true;
  for (size_t c = 0; c < kNumCols; ++c) {
    if (!p[c]) continue;
    const Col col = static_cast<Col>(c);
    const size_t n = p[c]->values.size();
    if (!p[c]->zip) {
      if (n > 1) axes.push_back({{col}, n});
      continue;
    }
    auto [it, fresh] = zip_axis.emplace(*p[c]->zip, axes.size());
    if (fresh) {
      axes.push_back({{col}, n});
      continue;
    }
    Axis& a = axes[it->second];
    if (a.n != n) {
      const std::string group = it->first.empty() ? "zip" : "zip." + it->first;
      errors_.add(m[c]->line, name_of(col),
                  group + " group has " + std::to_string(a.n) + " values in " +
                      name_of(a.cols.front()) + " but " + std::to_string(n) + " here");
      ok = false;
    }
    a.cols.push_back(col);
  }
  return ok;
}

void Planner::plan_row(const SheetRow& row, Merged& defaults) {
  bool is_defaults = false;
  Merged m = merge(row, defaults, is_defaults);
  Parsed p;
  if (is_defaults) {
    parse(m, p);  // reports its bad cells once, at the defaults row itself
    bool sets_budget = false;
    for (Col c : kBudgetCols) sets_budget = sets_budget || m[idx(c)].has_value();
    for (size_t c = 0; c < kNumCols; ++c) {
      const Col col = static_cast<Col>(c);
      if (col == Col::Name) continue;
      if (m[c] || (sets_budget && is_budget(col))) defaults[c] = m[c];
    }
    return;
  }
  const bool parsed = parse(m, p);
  bool ok = check_budget(row, m);
  std::vector<Axis> axes;
  ok = make_axes(p, m, axes) && ok;
  if (!ok) return;
  if (!parsed) {
    // A bad cell must not hide the row's other errors (an unknown architecture,
    // heads that do not divide d_model): expand the row without its bad cells,
    // for errors only (the plan is refused anyway), muting what they caused.
    std::set<std::string> bad;
    bool bad_budget = false;
    for (size_t c = 0; c < kNumCols; ++c)
      if (m[c] && !p[c] && column(static_cast<Col>(c)).role != ColRole::Output) {
        bad.insert(name_of(static_cast<Col>(c)));
        bad_budget = bad_budget || is_budget(static_cast<Col>(c));
      }
    // Without its budget a run has no tokens to check anything against.
    if (bad_budget) return;
    double total = 1;
    for (const Axis& a : axes) total *= static_cast<double>(a.n);
    if (total <= static_cast<double>(kMaxRowRuns)) {
      const size_t keep = plan_.runs.size();
      errors_.mute(std::move(bad));
      expand(row, p, axes);
      errors_.mute({});
      plan_.runs.erase(plan_.runs.begin() + static_cast<std::ptrdiff_t>(keep), plan_.runs.end());
      if (run_models_.size() > keep)
        run_models_.erase(run_models_.begin() + static_cast<std::ptrdiff_t>(keep), run_models_.end());
    }
    return;
  }
  double total = 1;
  for (const Axis& a : axes) total *= static_cast<double>(a.n);
  if (total > static_cast<double>(kMaxRowRuns)) {
    errors_.add(row.line, "", "row expands to " + std::to_string(static_cast<long long>(total)) +
                                  " runs, more than " + std::to_string(kMaxRowRuns));
    return;
  }
  // Geometric growth: reserving exactly per row would move every earlier run
  // once per row.
  const size_t need = plan_.runs.size() + static_cast<size_t>(total);
  if (need > plan_.runs.capacity()) {
    plan_.runs.reserve(std::max(need, 2 * plan_.runs.capacity()));
    run_models_.reserve(plan_.runs.capacity());
  }
  expand(row, p, axes);
}

void Planner::expand(const SheetRow& row, const Parsed& p, const std::vector<Axis>& axes) {
  Current cur{};
  for (size_t c = 0; c < kNumCols; ++c) cur[c] = p[c] ? &p[c]->values.front() : nullptr;
  std::vector<size_t> pos(axes.size(), 0);
  // Odometer over the axes; the last column of the sheet varies fastest.
  while (true) {
    for (size_t a = 0; a < axes.size(); ++a)
      for (Col c : axes[a].cols) cur[idx(c)] = &p[idx(c)]->values[pos[a]];
    add_run(row, cur);
    size_t a = axes.size();
    while (a > 0 && ++pos[a - 1] == axes[a - 1].n) pos[--a] = 0;
    if (a == 0) return;
  }
}

}  // namespace scalelab::sweep::detail
