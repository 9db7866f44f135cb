#include "analysis/data.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "db/db.h"
#include "db/lineage.h"

namespace scalelab::analysis {

std::string to_string(Compute c) { return c == Compute::Exact ? "exact" : "6nd"; }
std::string to_string(NAxis n) { return n == NAxis::NonEmbedding ? "nonembedding" : "total"; }

namespace {

bool positive(double v) { return std::isfinite(v) && v > 0; }

double or_nan(const std::optional<double>& v) {
  return v && positive(*v) ? *v : std::numeric_limits<double>::quiet_NaN();
}

// The curve of R: for a branch, its parent's rows up to the branch point first.
std::vector<CurvePoint> curve_of(db::Database& db, const RunPoint& r) {
  std::vector<std::pair<db::Metric, bool>> rows;
  if (!r.parent.empty())
    for (db::Metric& m : db.metrics(r.parent))
      if (m.step <= r.branch_step) rows.emplace_back(std::move(m), false);
  for (db::Metric& m : db.metrics(r.id))
    if (m.step > r.branch_step) rows.emplace_back(std::move(m), true);
  std::vector<CurvePoint> out;
  for (const auto& [m, own] : rows) {
    const std::optional<double> loss = m.val_loss ? m.val_loss : m.train_loss;
    // A curve point that diverged says nothing about the envelope; the final
    // loss is checked separately and fails loudly.
    if (!loss || !positive(*loss) || m.tokens <= 0) continue;
    const double d = static_cast<double>(m.tokens);
    out.push_back({d, r.c * d / r.d, *loss, or_nan(m.train_loss), or_nan(m.val_loss), own});
  }
  std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.d < b.d; });
  return out;
}

}  // namespace

void validate(const std::vector<RunPoint>& runs) {
  for (const RunPoint& r : runs) {
    const std::string who = r.name.empty() ? r.id : fmt::format("{} ({})", r.id, r.name);
    auto bad = [&](const char* field, double v) {
      throw DataError(fmt::format("run {}: {} is {}; fits need finite positive values", who,
                                  field, v));
    };
    if (!positive(r.loss)) bad("final_loss", r.loss);
    if (!positive(r.n)) bad("params", r.n);
    if (!positive(r.d)) bad("tokens", r.d);
    if (!positive(r.c)) bad("flops", r.c);
  }
}

std::vector<RunPoint> load_runs(db::Database& db, const DataOptions& opt) {
  db::RunFilter f;
  f.status = db::RunStatus::Done;
  f.arch = opt.arch;
  std::map<std::string, db::Lineage> lineage;
  for (db::Lineage& l : db::lineages(db)) lineage.emplace(l.id, std::move(l));
  std::vector<RunPoint> out;
  for (const db::Run& run : db.list_runs(f)) {
    // A task other than language modelling (mqar) has a loss of its own
    // kind: never a point of a loss-vs-compute fit. The canonical spec names
    // a task only when it is not lm (models/spec/run_spec.h).
    if (run.spec_json.find("\"task\":") != std::string::npos) continue;
    RunPoint p;
    if (auto it = lineage.find(run.id); it != lineage.end()) {
      if (it->second.is_parent) continue;
      p.parent = it->second.parent_id;
      p.branch_step = it->second.branch_step;
    }
    p.id = run.id;
    p.name = run.name;
    p.arch = run.arch;
    p.n_total = static_cast<double>(run.params);
    p.n = static_cast<double>(opt.n_axis == NAxis::NonEmbedding ? run.nonembedding_params
                                                                : run.params);
    p.d = static_cast<double>(run.tokens);
    p.c = opt.compute == Compute::Exact ? run.flops : 6.0 * p.n * p.d;
    if (!run.final_loss)
      throw DataError(fmt::format("run {} ({}): status done but final_loss is missing", run.id,
                                  run.name));
    p.loss = *run.final_loss;
    out.push_back(std::move(p));
  }
  validate(out);
  if (opt.with_curves)
    for (RunPoint& p : out) p.curve = curve_of(db, p);
  return out;
}

std::string runs_digest(const std::vector<RunPoint>& runs) {
  std::vector<std::string> keys;
  for (const RunPoint& r : runs) keys.push_back(fmt::format("{}={:.17g}", r.id, r.loss));
  std::sort(keys.begin(), keys.end());
  uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across builds and machines
  for (const std::string& k : keys)
    for (unsigned char c : k + ";") h = (h ^ c) * 1099511628211ull;
  return fmt::format("{:016x}", h);
}

size_t count_units(const std::vector<RunPoint>& runs) {
  std::set<std::string> units;
  for (const RunPoint& r : runs) units.insert(r.unit());
  return units.size();
}

std::vector<std::string> excluded_runs(db::Database& db, const DataOptions& opt) {
  db::RunFilter f;
  f.status = db::RunStatus::Diverged;
  f.arch = opt.arch;
  std::vector<std::string> out;
  for (const db::Run& r : db.list_runs(f))
    out.push_back(fmt::format("diverged run {} ({}, {}) left out of the fits: {}", r.id, r.arch,
                              r.name, r.error.substr(0, r.error.find('\n'))));
  return out;
}

std::vector<std::string> architectures(const std::vector<RunPoint>& runs) {
  std::vector<std::string> out;
  for (const RunPoint& r : runs)
    if (std::find(out.begin(), out.end(), r.arch) == out.end()) out.push_back(r.arch);
  return out;
}

std::vector<RunPoint> of_arch(const std::vector<RunPoint>& runs, const std::string& arch) {
  std::vector<RunPoint> out;
  for (const RunPoint& r : runs)
    if (r.arch == arch) out.push_back(r);
  return out;
}

namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  for (std::string& c : cells) {
    const auto b = c.find_first_not_of(" \t\r");
    const auto e = c.find_last_not_of(" \t\r");
    c = b == std::string::npos ? "" : c.substr(b, e - b + 1);
  }
  return cells;
}

double parse_value(const std::string& path, int row, int col, const std::string& name,
                   const std::string& cell) {
  auto fail = [&](const std::string& msg) {
    return PointsFileError(fmt::format("{}:{}:{}: {}", path, row, col, msg));
  };
  if (cell.empty()) throw fail(fmt::format("{} is empty", name));
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(cell, &used);
  } catch (const std::exception&) {
    throw fail(fmt::format("{} '{}' is not a number", name, cell));
  }
  if (used != cell.size()) throw fail(fmt::format("{} '{}' is not a number", name, cell));
  if (!positive(v)) throw fail(fmt::format("{} must be finite and positive, got {}", name, cell));
  return v;
}

}  // namespace

std::vector<RunPoint> read_points_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw PointsFileError(fmt::format("{}:0:0: cannot open the file", path));
  std::string line;
  int row = 0;
  std::map<std::string, int> col;  // name -> 0-based index
  size_t width = 0;
  std::vector<RunPoint> out;
  while (std::getline(in, line)) {
    ++row;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const std::vector<std::string> cells = split_csv_line(line);
    if (col.empty()) {
      for (size_t i = 0; i < cells.size(); ++i) col[cells[i]] = static_cast<int>(i);
      for (const char* need : {"params", "tokens", "loss"})
        if (!col.count(need))
          throw PointsFileError(fmt::format(
              "{}:{}:0: header has no '{}' column (need params,tokens,loss)", path, row, need));
      width = cells.size();
      continue;
    }
    if (cells.size() != width)
      throw PointsFileError(fmt::format("{}:{}:0: {} cells, the header has {}", path, row,
                                        cells.size(), width));
    RunPoint p;
    auto get = [&](const char* name) {
      const int i = col.at(name);
      return parse_value(path, row, i + 1, name, cells[static_cast<size_t>(i)]);
    };
    p.n = p.n_total = get("params");
    p.d = get("tokens");
    p.loss = get("loss");
    p.c = 6.0 * p.n * p.d;
    p.id = fmt::format("row{}", row);
    p.name = p.id;
    out.push_back(std::move(p));
  }
  if (col.empty()) throw PointsFileError(fmt::format("{}:1:0: the file is empty", path));
  if (out.empty()) throw PointsFileError(fmt::format("{}:{}:0: no data rows", path, row + 1));
  return out;
}

}  // namespace scalelab::analysis
