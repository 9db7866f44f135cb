#include "sweep/output.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "sweep/columns.h"
#include "sweep/sheet.h"

namespace scalelab::sweep {
namespace {

// "%.3g" without the exponent's '+' and leading zeros: 2.5e+18 -> 2.5e18.
std::string short_g(double v, int digits = 3) {
  std::string s = fmt::format("{:.{}g}", v, digits);
  const size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string exp = s.substr(e + 1);
  const bool neg = exp[0] == '-';
  exp = exp.substr(exp[0] == '+' || exp[0] == '-' ? 1 : 0);
  exp.erase(0, std::min(exp.find_first_not_of('0'), exp.size() - 1));
  return s.substr(0, e) + "e" + (neg ? "-" : "") + exp;
}

std::string thousands(double v) {
  std::string digits = fmt::format("{:.0f}", std::round(v));
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

// Columns padded to their widest cell; numbers right-aligned.
class TextTable {
 public:
  TextTable(std::vector<std::string> head, std::string right) : right_(std::move(right)) {
    rows_.push_back(std::move(head));
  }
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void rule() { rows_.emplace_back(); }
  void print(std::ostream& os) const {
    std::vector<size_t> w(rows_.front().size(), 0);
    for (const auto& r : rows_)
      for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
    size_t total = 0;
    for (size_t x : w) total += x + 2;
    for (const auto& r : rows_) {
      if (r.empty()) {
        os << std::string(total - 2, '-') << "\n";
        continue;
      }
      std::string line;
      for (size_t i = 0; i < r.size(); ++i) {
        const std::string pad(w[i] - r[i].size(), ' ');
        line += (i ? "  " : "") + (right_[i] == 'r' ? pad + r[i] : r[i] + pad);
      }
      line.erase(line.find_last_not_of(' ') + 1);
      os << line << "\n";
    }
  }

 private:
  std::string right_;  // 'r' or 'l' per column
  std::vector<std::vector<std::string>> rows_;
};

std::string params_range(const BudgetRow& r) {
  if (r.min_params == r.max_params) return human_count(static_cast<double>(r.min_params));
  return human_count(static_cast<double>(r.min_params)) + "-" +
         human_count(static_cast<double>(r.max_params));
}

}  // namespace

std::string human_count(double v) {
  if (std::abs(v) >= 999.5e12) return short_g(v, 3);  // past T, plain scientific: 3.3e15
  static const char* const suffix[] = {"", "k", "M", "B", "T"};
  int u = 0;
  // 999.7k would print as "1e3k": move up a unit before rounding gets there.
  while (std::abs(v) >= 999.5 && u < 4) {
    v /= 1000;
    ++u;
  }
  return short_g(v, 3) + suffix[u];
}

std::string human_flops(double v) { return short_g(v, 2); }

std::string human_bytes(double v) {
  if (v >= 1e12) return short_g(v / 1e12) + " TB";
  if (v >= 1e9) return short_g(v / 1e9) + " GB";
  return short_g(v / 1e6) + " MB";
}

std::string human_hours(double v) {
  if (v < 10) return fmt::format("{:.2f}", v);
  if (v < 1000) return fmt::format("{:.1f}", v);
  return thousands(v);
}

std::string human_money(double v) {
  return v < 1000 ? fmt::format("${:.2f}", v) : "$" + thousands(v);
}

void BudgetRow::add(const PlannedRun& r) {
  const int64_t p = r.row.params;
  min_params = runs == 0 ? p : std::min(min_params, p);
  max_params = runs == 0 ? p : std::max(max_params, p);
  ++runs;
  tokens += static_cast<double>(r.trained_tokens);
  flops += r.trained_flops;
  gpu_hours += r.cost.gpu_hours;
  const bool parent = !r.spec.branches.empty(), branch = !r.spec.branch_of.empty();
  parents += parent;
  branches += branch;
  if (parent || branch) {
    wsd_flops += r.trained_flops;
    wsd_gpu_hours += r.cost.gpu_hours;
  }
  if (branch && r.trained_flops > 0) {
    scratch_flops += r.row.flops;  // GPU-hours are linear in FLOPs (accounting.h)
    scratch_gpu_hours += r.cost.gpu_hours * r.row.flops / r.trained_flops;
  }
  cost += r.cost.cost;
  max_memory = std::max(max_memory, r.cost.memory.total());
  over_memory += r.cost.fits ? 0 : 1;
}

Budget budget(const Plan& plan) {
  std::vector<std::string> stages;
  std::map<std::string, std::vector<BudgetRow>> by_stage;
  Budget b;
  for (const PlannedRun& r : plan.runs) {
    auto [it, fresh] = by_stage.try_emplace(r.row.stage);
    if (fresh) stages.push_back(r.row.stage);
    auto row = std::find_if(it->second.begin(), it->second.end(),
                            [&](const BudgetRow& x) { return x.arch == r.row.arch; });
    if (row == it->second.end()) {
      it->second.push_back({r.row.stage, r.row.arch});
      row = std::prev(it->second.end());
    }
    row->add(r);
    b.total.add(r);
  }
  for (const std::string& s : stages) {
    const std::vector<BudgetRow>& archs = by_stage[s];
    b.rows.insert(b.rows.end(), archs.begin(), archs.end());
    if (archs.size() < 2) continue;
    BudgetRow sub{s, ""};
    for (const PlannedRun& r : plan.runs)
      if (r.row.stage == s) sub.add(r);
    b.rows.push_back(sub);
  }
  return b;
}

namespace {
void print_branch_savings(std::ostream& os, const BudgetRow& t) {
  if (t.branches == 0) return;
  const double saved = t.scratch_flops - t.wsd_flops;
  os << fmt::format(
      "\nWSD branches: {} parent runs (stable phase) and {} cooldown branches give {} (N, D) "
      "points for {} FLOPs, {} GPU-h;\n  {} from-scratch runs to the same budgets would take {} "
      "FLOPs, {} GPU-h: the branches save {:.0f}% ({} FLOPs, {} GPU-h)\n",
      t.parents, t.branches, t.branches, human_flops(t.wsd_flops), human_hours(t.wsd_gpu_hours),
      t.branches, human_flops(t.scratch_flops), human_hours(t.scratch_gpu_hours),
      t.scratch_flops > 0 ? 100 * saved / t.scratch_flops : 0.0, human_flops(saved),
      human_hours(t.scratch_gpu_hours - t.wsd_gpu_hours));
}
}  // namespace

void print_budget(std::ostream& os, const Plan& plan, const Budget& b) {
  const Hardware& hw = plan.hw;
  os << fmt::format("Budget of sweep '{}': {} runs, {} FLOPs, {} GPU-h, {}\n", plan.sweep,
                    b.total.runs, human_flops(b.total.flops), human_hours(b.total.gpu_hours),
                    human_money(b.total.cost));
  os << fmt::format("  assuming {} TFLOP/s peak per GPU at {:.0f}% MFU, {}/GPU-h, {} per GPU\n\n",
                    short_g(hw.peak_flops / 1e12, 4), hw.mfu * 100, human_money(hw.gpu_hour_price),
                    human_bytes(hw.gpu_memory));
  TextTable t({"stage", "arch", "runs", "params", "tokens", "FLOPs", "GPU-h", "cost", "max mem"},
              "llrrrrrrr");
  auto cells = [](const BudgetRow& r, std::string stage, std::string arch) {
    return std::vector<std::string>{std::move(stage), std::move(arch), std::to_string(r.runs),
                                    params_range(r), human_count(r.tokens), human_flops(r.flops),
                                    human_hours(r.gpu_hours), human_money(r.cost),
                                    human_bytes(r.max_memory)};
  };
  std::string last_stage = "\x01";
  for (const BudgetRow& r : b.rows) {
    if (r.arch.empty()) {
      t.row(cells(r, "", "all"));
      continue;
    }
    if (r.stage != last_stage && last_stage != "\x01") t.rule();
    t.row(cells(r, r.stage == last_stage ? "" : (r.stage.empty() ? "-" : r.stage), r.arch));
    last_stage = r.stage;
  }
  t.rule();
  t.row(cells(b.total, "total", ""));
  t.print(os);
  print_branch_savings(os, b.total);
  if (b.total.over_memory > 0)
    os << fmt::format("\n{} runs do not fit in {} of GPU memory even one sequence at a time "
                      "(marked !): shard them or use larger GPUs\n",
                      b.total.over_memory, human_bytes(hw.gpu_memory));
}

namespace {
// "parent of 3", "branch@64" (the step it starts from), or "-".
std::string wsd_role(const PlannedRun& r) {
  if (!r.spec.branches.empty()) return fmt::format("parent of {}", r.spec.branches.size());
  if (!r.spec.branch_of.empty()) return fmt::format("branch@{}", r.spec.branch_step);
  return "-";
}
}  // namespace

void print_runs_table(std::ostream& os, const Plan& plan) {
  TextTable t({"run id", "row", "name", "stage", "arch", "wsd", "L", "d", "h", "params",
               "non-emb", "tokens", "tok/p", "FLOPs", "memory", "micro x acc", "GPU-h"},
              "lrlllllrrrrrrrrrr");
  for (const PlannedRun& r : plan.runs) {
    const spec::ModelSpec& m = r.spec.model;
    t.row({r.row.id, std::to_string(r.line), r.row.name.empty() ? "-" : r.row.name,
           r.row.stage.empty() ? "-" : r.row.stage, r.row.arch, wsd_role(r),
           std::to_string(m.n_layers),
           std::to_string(m.d_model), std::to_string(m.n_heads),
           human_count(static_cast<double>(r.row.params)),
           human_count(static_cast<double>(r.row.nonembedding_params)),
           human_count(static_cast<double>(r.row.tokens)),
           short_g(static_cast<double>(r.row.tokens) / static_cast<double>(r.row.params)),
           human_flops(r.row.flops), human_bytes(r.cost.memory.total()) + (r.cost.fits ? "" : "!"),
           fmt::format("{} x {}", r.cost.micro_batch, r.cost.accumulation),
           human_hours(r.cost.gpu_hours)});
  }
  t.print(os);
}

}  // namespace scalelab::sweep
