// Which derived quantities are predictions beyond the runs, and by how much.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "analysis/fit_detail.h"

namespace scalelab::analysis::detail {
namespace {

double axis_value(const RunPoint& r, char axis) {
  return axis == 'c' ? r.c : axis == 'n' ? r.n : r.d;
}

// "" inside; else e.g. "C 7.7e+16 above the runs (up to 7.7e+15)".
std::string outside(const char* what, double v, const AxisRange& r) {
  if (r.contains(v) || std::isnan(v)) return "";
  if (v > r.hi) return fmt::format("{} {:.2g} above the runs (up to {:.2g})", what, v, r.hi);
  return fmt::format("{} {:.2g} below the runs (from {:.2g})", what, v, r.lo);
}

void add(std::string& into, const std::string& reason) {
  if (reason.empty() || into.find(reason) != std::string::npos) return;
  into += (into.empty() ? "" : "; ") + reason;
}

double round_sig2(double v, double (*dir)(double)) {
  const double p = std::pow(10.0, std::floor(std::log10(v)) - 1);
  return dir(v / p) * p;
}

}  // namespace

AxisRange range_of(const std::vector<RunPoint>& runs, char axis) {
  AxisRange r{INFINITY, 0};
  for (const RunPoint& p : runs) {
    r.lo = std::min(r.lo, axis_value(p, axis));
    r.hi = std::max(r.hi, axis_value(p, axis));
  }
  return r;
}

std::vector<double> budgets_inside(double lo, double hi) {
  if (!(lo > 0) || !(hi >= lo)) return {};
  double a = round_sig2(lo, std::ceil), b = round_sig2(hi, std::floor);
  if (!(a <= b)) a = lo, b = hi;
  const double mid = std::clamp(round_sig2(std::sqrt(a * b), std::round), a, b);
  std::vector<double> out = {a, mid, b};
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void flag_extrapolation(FitResult& r, const std::vector<RunPoint>& runs) {
  const AxisRange c = range_of(runs, 'c'), n = range_of(runs, 'n'), d = range_of(runs, 'd');
  // N_opt and D_opt at a budget decide its tokens_per_param and loss_opt too.
  std::map<double, std::string> at_budget;
  for (const Estimate& e : r.derived) {
    std::string& why = at_budget[e.at];
    add(why, outside("C", e.at, c));
    if (e.name == "N_opt") add(why, outside("N_opt", e.value, n));
    if (e.name == "D_opt") add(why, outside("D_opt", e.value, d));
  }
  for (Estimate& e : r.derived) {
    e.extrapolation = outside("C", e.at, c);
    if (e.name == "N_opt") add(e.extrapolation, outside("N_opt", e.value, n));
    if (e.name == "D_opt") add(e.extrapolation, outside("D_opt", e.value, d));
    if (e.name == "tokens_per_param" || e.name == "loss_opt") e.extrapolation = at_budget[e.at];
  }
}

void flag_compare_extrapolation(FitResult& r, const std::vector<RunPoint>& arch_runs,
                                const std::vector<RunPoint>& baseline_runs) {
  const AxisRange mine = range_of(arch_runs, 'c'), base = range_of(baseline_runs, 'c');
  const std::string arch = arch_runs.empty() ? "" : arch_runs.front().arch;
  const std::string bname = baseline_runs.empty() ? "" : baseline_runs.front().arch;
  for (Estimate& e : r.derived) {
    const std::string a = outside(("C (" + arch + ")").c_str(), e.at, mine);
    const std::string b = outside(("C (" + bname + ")").c_str(), e.at, base);
    if (e.name == "loss") e.extrapolation = a;
    if (e.name == "baseline_loss") e.extrapolation = b;
    if (e.name != "multiplier") continue;
    e.extrapolation = a;
    add(e.extrapolation, b);
    // m C is the compute at which the baseline's law reaches the loss.
    if (std::isfinite(e.value))
      add(e.extrapolation, outside(("the " + bname + " compute it implies").c_str(),
                                   e.value * e.at, base));
    else
      add(e.extrapolation, "the " + bname + " law never reaches that loss");
  }
}

}  // namespace scalelab::analysis::detail
