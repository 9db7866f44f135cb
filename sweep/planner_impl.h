// Internals of the planner, shared by planner.cpp (sheet level: header,
// defaults, cells, axes) and planner_run.cpp (one expanded run: model,
// budget, RunSpec, identity). Not part of the public API.
#pragma once

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "data/source.h"
#include "sweep/columns.h"
#include "sweep/planner.h"

namespace scalelab::sweep::detail {

inline constexpr size_t kMaxRowRuns = 10'000'000;
inline constexpr Col kBudgetCols[] = {Col::Tokens, Col::TokensPerParam, Col::Flops};

struct Source {
  std::string text;
  int line = 0;  // where the cell was written (the row, or a defaults row above it)
};
using Merged = std::array<std::optional<Source>, kNumCols>;
using Parsed = std::array<std::optional<Cell>, kNumCols>;
using Current = std::array<const CellValue*, kNumCols>;

inline std::string name_of(Col c) { return std::string(column(c).name); }

// Collects errors once each (a bad defaults cell or shape shows up in many
// expanded runs) and stops storing after a limit.
class ErrorSink {
 public:
  ErrorSink(std::string file, size_t limit) : file_(std::move(file)), limit_(limit) {}
  void add(int row, const std::string& column, const std::string& msg) {
    if (muted_.count(column)) return;
    if (!seen_.insert({row, column, msg}).second) return;
    if (errors_.size() < limit_) errors_.push_back({file_, row, column, msg});
    else ++dropped_;
  }
  bool empty() const { return errors_.empty(); }
  // While a row with bad cells is expanded for its other errors, the columns
  // already reported (and what follows from them) say nothing more.
  void mute(std::set<std::string> columns) { muted_ = std::move(columns); }
  [[noreturn]] void raise() {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const SheetError& a, const SheetError& b) { return a.row < b.row; });
    if (dropped_ > 0)
      errors_.push_back({file_, 0, "", std::to_string(dropped_) + " more errors not shown"});
    throw SheetErrors(std::move(errors_));
  }

 private:
  std::string file_;
  size_t limit_, dropped_ = 0;
  std::set<std::tuple<int, std::string, std::string>> seen_;
  std::set<std::string> muted_;
  std::vector<SheetError> errors_;
};

struct ModelInfo {
  spec::ModelSpec spec;
  spec::ParamCount params;
  double flops_per_token = 0;
  std::string descriptor;  // spec::to_descriptor(spec), for the runs' canonical JSON
  std::optional<spec::SpecError> error;
};

// A resolved `data` cell (planner_data.cpp), and its window counts per seq_len.
struct DataSource {
  std::optional<data::SourceLayout> layout;  // unset: error says why
  std::string error;
  int64_t need_vocab = 0;  // the largest token + 1
  std::map<int64_t, std::pair<int64_t, int64_t>> windows;  // seq_len -> (train, validation)
  size_t order = 0;        // first use, for the summary
};

struct Axis {
  std::vector<Col> cols;
  size_t n = 1;
};

class Planner {
 public:
  Planner(const Sheet& sheet, const PlanOptions& opts)
      : sheet_(sheet), errors_(sheet.path, opts.max_errors) {
    plan_.sheet = sheet.path;
    plan_.sweep = opts.sweep.empty() ? sweep_name_for(sheet.path) : opts.sweep;
    plan_.hw = opts.hw;
  }

  Plan run() {
    map_header();
    Merged defaults;
    for (const SheetRow& row : sheet_.rows) plan_row(row, defaults);
    collect_stages();
    if (!errors_.empty()) errors_.raise();
    assign_ids();
    add_branch_runs();
    summarize_data();
    return std::move(plan_);
  }

 private:
  void map_header();
  void plan_row(const SheetRow& row, Merged& defaults);
  Merged merge(const SheetRow& row, const Merged& defaults, bool& is_defaults);
  bool parse(const Merged& m, Parsed& p);
  bool check_budget(const SheetRow& row, const Merged& m);
  bool make_axes(const Parsed& p, const Merged& m, std::vector<Axis>& axes);
  void expand(const SheetRow& row, const Parsed& p, const std::vector<Axis>& axes);
  void add_run(const SheetRow& row, const Current& cur);
  void assign_ids();
  void collect_stages();
  const ModelInfo& model(const Current& cur, std::optional<int64_t> vocab_default);
  DataSource* data_source(const Current& cur, int line);
  bool check_data(DataSource& ds, const spec::RunSpec& r, int line);
  void summarize_data();
  std::optional<int64_t> budget_tokens(const Current& cur, const ModelInfo& mi, int line);
  bool fill_run_spec(const Current& cur, int line, spec::RunSpec& r);
  // planner_branches.cpp: the `branches` cell into r.branches (after r.tokens
  // is known), and the branch runs of every parent once parent ids exist.
  bool resolve_branches(const Current& cur, int line, spec::RunSpec& r);
  void add_branch_runs();

  const Sheet& sheet_;
  ErrorSink errors_;
  Plan plan_;
  std::vector<std::optional<Col>> colmap_;
  std::unordered_map<std::string, ModelInfo> models_;  // node-based: run_models_ points into it
  std::vector<const ModelInfo*> run_models_;           // one per plan_.runs entry
  std::unordered_map<std::string, DataSource> data_;   // by `data` cell
};

}  // namespace scalelab::sweep::detail
