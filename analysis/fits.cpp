#include "analysis/fits.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "analysis/allocation.h"
#include "analysis/chinchilla3.h"
#include "analysis/fit_detail.h"
#include "analysis/powerlaw.h"

namespace scalelab::analysis {
namespace {

using detail::fill;
using detail::Names;
using detail::Quantities;

void base(FitResult& r, const std::string& method, const std::string& arch,
          const std::vector<RunPoint>& runs, const FitOptions& opt) {
  r.method = method;
  r.arch = arch;
  r.n_points = static_cast<int>(runs.size());
  r.extra["compute"] = to_string(opt.compute);
  r.extra["n_axis"] = to_string(opt.n_axis);
  r.extra["independent_runs"] = count_units(runs);
  r.extra["data_digest"] = runs_digest(runs);
}

// Kaplan x/y points: the lowest final loss at each compute budget (runs within
// the IsoFLOP tolerance share one; for an IsoFLOP sweep that is the
// compute-efficient frontier, not the cloud of mis-sized runs), and at each
// distinct N or D. The winner is repeated as often as it occurs in RUNS, so a
// bootstrap resample weights it like any other duplicated run.
std::pair<std::vector<double>, std::vector<double>> kaplan_points(const std::vector<RunPoint>& runs,
                                                                  char axis, double tolerance) {
  std::vector<std::vector<size_t>> groups;
  if (axis == 'c') {
    for (IsoFlopBudget& b : isoflop_budgets(runs, tolerance)) groups.push_back(std::move(b.members));
  } else {
    std::map<double, std::vector<size_t>> by;
    for (size_t i = 0; i < runs.size(); ++i) by[axis == 'n' ? runs[i].n : runs[i].d].push_back(i);
    for (auto& [k, g] : by) groups.push_back(std::move(g));
  }
  std::vector<double> x, y;
  for (const auto& g : groups) {
    size_t best = g.front();
    for (size_t i : g)
      if (runs[i].loss < runs[best].loss) best = i;
    const double xv = axis == 'c' ? runs[best].c : axis == 'n' ? runs[best].n : runs[best].d;
    for (size_t i : g)
      if (runs[i].id == runs[best].id) {
        x.push_back(xv);
        y.push_back(runs[best].loss);
      }
  }
  return {x, y};
}

// A law with as many parameters as distinct points passes through all of
// them: its "fit" says nothing, and neither would an interval around it.
void require_dof(const std::vector<double>& x, size_t params, const char* what) {
  const size_t k = std::set<double>(x.begin(), x.end()).size();
  if (k <= params)
    throw FitError(fmt::format(
        "no residual degrees of freedom: {} distinct {} for {} parameters (the law would pass "
        "through every point; need {})",
        k, what, params, params + 1));
}

PowerLaw kaplan_law(const std::vector<RunPoint>& rs, char axis, bool with_e, double tolerance) {
  const auto [x, y] = kaplan_points(rs, axis, tolerance);
  require_dof(x, with_e ? 3 : 2, axis == 'c' ? "compute budgets" : axis == 'n' ? "sizes N"
                                                                               : "token counts D");
  return fit_power_law(x, y, with_e);
}

std::vector<double> budgets_of(const std::vector<RunPoint>& runs, const FitOptions& opt) {
  return opt.budgets.empty() ? default_budgets(runs) : opt.budgets;
}

// 24 log-spaced x over the runs' range: where the report draws the fit line.
std::vector<double> band_grid(const std::vector<RunPoint>& runs, char axis) {
  const detail::AxisRange r = detail::range_of(runs, axis);
  std::vector<double> out;
  for (int i = 0; i < 24; ++i) out.push_back(std::exp(std::log(r.lo) + std::log(r.hi / r.lo) * i / 23));
  return out;
}

// N_opt, D_opt, D/N at each budget.
void allocation_names(Names& n, const std::vector<double>& budgets) {
  for (double c : budgets) {
    n.derived.push_back({"N_opt", c});
    n.derived.push_back({"D_opt", c});
    n.derived.push_back({"tokens_per_param", c});
  }
}

template <class Law>
void push_allocation(std::vector<double>& v, const Law& law, const std::vector<double>& budgets) {
  for (double c : budgets) {
    const double n = law.n_opt(c), d = law.d_opt(c);
    v.insert(v.end(), {n, d, d / n});
  }
}

std::vector<NDPoint> nd_points(const std::vector<RunPoint>& rs) {
  std::vector<NDPoint> p;
  for (const RunPoint& x : rs) p.push_back({x.n, x.d, x.loss});
  return p;
}

// Approach 3's five parameters: each term needs its variable at 3 values or
// more (with 2, A and alpha, or B and beta, trade off freely), and the fit
// needs residual degrees of freedom to spare.
void require_approach3_data(const std::vector<RunPoint>& rs) {
  std::set<double> ns, ds;
  for (const RunPoint& r : rs) ns.insert(r.n), ds.insert(r.d);
  if (rs.size() < 10)
    throw FitError(fmt::format("approach 3 fits 5 parameters; {} point(s), need at least 10",
                               rs.size()));
  if (ns.size() < 3 || ds.size() < 3)
    throw FitError(fmt::format("approach 3 needs 3 or more distinct N and D ({} N, {} D)",
                               ns.size(), ds.size()));
}

}  // namespace

std::vector<double> default_budgets(const std::vector<RunPoint>& runs) {
  if (runs.empty()) return {};
  const detail::AxisRange c = detail::range_of(runs, 'c');
  return detail::budgets_inside(c.lo, c.hi);
}

void check_fit_input(const std::vector<RunPoint>& runs) {
  if (runs.empty()) throw DataError("no finished runs to fit (status done, with a final loss)");
  validate(runs);
  if (runs.size() == 1)
    throw DataError(fmt::format(
        "only one finished run ({}); a fit needs runs of at least 3 sizes", runs[0].id));
  const auto [lo, hi] = std::minmax_element(
      runs.begin(), runs.end(), [](auto& a, auto& b) { return a.c < b.c; });
  if (hi->c <= lo->c * (1 + 1e-9))
    throw DataError(fmt::format(
        "all {} runs have the same compute ({:.3g} FLOPs); a loss-vs-compute fit needs runs "
        "at different compute",
        runs.size(), lo->c));
}

FitResult fit_kaplan(const std::vector<RunPoint>& runs, char axis, bool with_e,
                     const std::string& arch, const FitOptions& opt) {
  const char* X = axis == 'c' ? "C" : axis == 'n' ? "N" : "D";
  FitResult r;
  base(r, fmt::format("kaplan_{}{}", axis, with_e ? "" : "0"), arch, runs, opt);
  r.formula = fmt::format("L({0}) = {1}A * {0}^-alpha", X, with_e ? "E + " : "");
  r.extra["x"] = X;
  r.extra["x_unit"] = axis == 'c' ? "FLOPs" : axis == 'n' ? "parameters" : "tokens";
  r.extra["points"] = axis == 'c' ? fmt::format("lowest final loss per compute budget (runs within "
                                                "{:.0f}% share one)", 100 * opt.isoflop_tolerance)
                                  : fmt::format("lowest final loss at each distinct {}", X);
  Names names;
  if (with_e) names.params.push_back("E");
  names.params.insert(names.params.end(), {"A", "alpha"});
  const std::vector<double> budgets = axis == 'c' ? budgets_of(runs, opt) : std::vector<double>{};
  for (double c : budgets) names.derived.push_back({"loss", c});
  names.band = band_grid(runs, axis);
  const Quantities q = [&](const std::vector<RunPoint>& rs) {
    const PowerLaw law = kaplan_law(rs, axis, with_e, opt.isoflop_tolerance);
    std::vector<double> v;
    if (with_e) v.push_back(law.E);
    v.insert(v.end(), {law.A, law.alpha});
    for (double c : budgets) v.push_back(law(c));
    for (double x : names.band) v.push_back(law(x));
    return v;
  };
  const PowerLaw full = kaplan_law(runs, axis, with_e, opt.isoflop_tolerance);
  r.extra["rms_log_residual"] = full.rms_log_residual;
  fill(r, names, q(runs), runs, q, opt);
  detail::flag_extrapolation(r, runs);
  return r;
}

FitResult fit_approach1(const std::vector<RunPoint>& runs, const std::string& arch,
                        const FitOptions& opt) {
  FitResult r;
  base(r, "chinchilla1", arch, runs, opt);
  r.formula = "N_opt = k_n * C^a, D_opt = k_d * C^b (training-curve envelope)";
  const std::vector<double> budgets = budgets_of(runs, opt);
  Names names{{"a", "k_n", "b", "k_d"}, {}, {}};
  allocation_names(names, budgets);
  const Quantities q = [&](const std::vector<RunPoint>& rs) {
    const Approach1Fit f = fit_chinchilla1(rs);
    std::vector<double> v = {f.law.a, f.law.k_n, f.law.b, f.law.k_d};
    push_allocation(v, f.law, budgets);
    return v;
  };
  const Approach1Fit full = fit_chinchilla1(runs);
  nlohmann::json env = nlohmann::json::array();
  for (const EnvelopePoint& p : full.envelope)
    env.push_back({{"c", p.c}, {"n", p.n}, {"d", p.d}, {"loss", p.loss}});
  r.extra["envelope"] = env;
  r.extra["sizes_on_envelope"] = full.distinct_sizes;
  fill(r, names, q(runs), runs, q, opt);
  detail::flag_extrapolation(r, runs);
  return r;
}

FitResult fit_approach2(const std::vector<RunPoint>& runs, const std::string& arch,
                        const FitOptions& opt) {
  FitResult r;
  base(r, "chinchilla2", arch, runs, opt);
  r.formula = "N_opt = k_n * C^a, D_opt = k_d * C^b (IsoFLOP parabolas in log N)";
  const std::vector<double> budgets = budgets_of(runs, opt);
  Names names{{"a", "k_n", "b", "k_d"}, {}, {}};
  allocation_names(names, budgets);
  const double tol = opt.isoflop_tolerance;
  const Quantities q = [&](const std::vector<RunPoint>& rs) {
    const Approach2Fit f = fit_chinchilla2(rs, tol);
    std::vector<double> v = {f.law.a, f.law.k_n, f.law.b, f.law.k_d};
    push_allocation(v, f.law, budgets);
    return v;
  };
  const Approach2Fit full = fit_chinchilla2(runs, tol);
  nlohmann::json bj = nlohmann::json::array();
  for (const IsoFlopBudget& b : full.budgets) {
    nlohmann::json j = {{"c", b.c}, {"runs", b.members.size()}, {"sizes", b.distinct_sizes},
                        {"used", b.used}, {"note", b.note}};
    if (!std::isnan(b.q2)) j["parabola"] = {b.q0, b.q1, b.q2};
    if (b.used) j["n_opt"] = b.n_opt, j["d_opt"] = b.d_opt, j["loss_opt"] = b.loss_opt;
    bj.push_back(std::move(j));
  }
  r.extra["budgets"] = bj;
  r.extra["parabola"] = "loss = p0 + p1 ln N + p2 (ln N)^2";
  fill(r, names, q(runs), runs, q, opt);
  detail::flag_extrapolation(r, runs);
  return r;
}

FitResult fit_approach3(const std::vector<RunPoint>& runs, const std::string& arch,
                        const FitOptions& opt) {
  require_approach3_data(runs);
  FitResult r;
  base(r, "chinchilla3", arch, runs, opt);
  r.formula = "L(N, D) = E + A / N^alpha + B / D^beta; N_opt, D_opt for C = 6 N D";
  const std::vector<double> budgets = budgets_of(runs, opt);
  Names names{{"E", "A", "B", "alpha", "beta", "a", "b"}, {}, {}};
  allocation_names(names, budgets);
  for (double c : budgets) names.derived.push_back({"loss_opt", c});
  auto values = [&](const Chinchilla3Params& p) {
    std::vector<double> v = {p.E, p.A, p.B, p.alpha, p.beta, p.beta / (p.alpha + p.beta),
                             p.alpha / (p.alpha + p.beta)};
    push_allocation(v, p, budgets);
    for (double c : budgets) v.push_back(p.predict(p.n_opt(c), p.d_opt(c)));
    return v;
  };
  Chinchilla3Options full_opt;
  full_opt.starts = opt.chinchilla3_starts;
  full_opt.threads = opt.threads;
  Chinchilla3Fit full;
  try {
    full = fit_chinchilla3(nd_points(runs), full_opt);
  } catch (const std::invalid_argument& e) {
    throw FitError(e.what());
  } catch (const std::runtime_error& e) {  // no start reached a finite optimum
    throw FitError(e.what());
  }
  r.extra["objective"] = full.objective;
  r.extra["starts"] = full.starts;
  r.extra["converged_starts"] = full.converged_starts;
  r.extra["huber_delta"] = full_opt.huber_delta;
  r.extra["best_start"] = {full.best_start[0], full.best_start[1], full.best_start[2],
                           full.best_start[3], full.best_start[4]};
  // Replicates start from the full-data optimum and the 32 corners of a coarse
  // grid, not all 4,500 starts: the resampled optimum lies near the full one.
  Eigen::MatrixXd boot_starts(33, 5);
  boot_starts.row(0) = full.x.transpose();
  for (int k = 0; k < 32; ++k)
    boot_starts.row(k + 1) << (k & 1 ? 20 : 0), (k & 2 ? 20 : 0), (k & 4 ? 1 : -1),
        (k & 8 ? 1.0 : 0.2), (k & 16 ? 1.0 : 0.2);
  r.extra["bootstrap_starts"] = "full-data optimum + 32 coarse-grid corners";
  const Quantities q = [&](const std::vector<RunPoint>& rs) {
    require_approach3_data(rs);
    Chinchilla3Options o;
    o.starts = boot_starts;
    o.threads = 1;  // the bootstrap already runs replicates in parallel
    return values(fit_chinchilla3(nd_points(rs), o).params);
  };
  fill(r, names, values(full.params), runs, q, opt);
  detail::flag_extrapolation(r, runs);
  return r;
}

FitResult fit_compare(const std::vector<RunPoint>& arch_runs,
                      const std::vector<RunPoint>& baseline_runs, const std::string& arch,
                      const FitOptions& opt) {
  std::vector<RunPoint> all = arch_runs;
  all.insert(all.end(), baseline_runs.begin(), baseline_runs.end());
  FitResult r;
  base(r, "compare", arch, all, opt);
  r.formula = fmt::format(
      "m(C) = C_{0}(L_arch(C)) / C from kaplan_c fits; m > 1: {0} needs m x the compute",
      opt.baseline);
  r.extra["baseline"] = opt.baseline;
  // By default only where both architectures have runs: outside, the answer is
  // two extrapolations compared (and can flip).
  const detail::AxisRange a = detail::range_of(arch_runs, 'c'), b = detail::range_of(baseline_runs, 'c');
  std::vector<double> budgets = opt.budgets;
  if (budgets.empty()) {
    budgets = detail::budgets_inside(std::max(a.lo, b.lo), std::min(a.hi, b.hi));
    if (budgets.empty())
      throw FitError(fmt::format(
          "the compute ranges of {} ({:.2g}-{:.2g}) and {} ({:.2g}-{:.2g} FLOPs) do not overlap; "
          "give --budgets to compare them by extrapolation",
          arch, a.lo, a.hi, opt.baseline, b.lo, b.hi));
  }
  Names names;
  for (double c : budgets) {
    names.derived.push_back({"loss", c});
    names.derived.push_back({"baseline_loss", c});
    names.derived.push_back({"multiplier", c});
  }
  const std::string base_arch = baseline_runs.empty() ? "" : baseline_runs.front().arch;
  const Quantities q = [&](const std::vector<RunPoint>& rs) {
    std::vector<RunPoint> mine, theirs;
    for (const RunPoint& p : rs) (p.arch == base_arch ? theirs : mine).push_back(p);
    const PowerLaw la = kaplan_law(mine, 'c', true, opt.isoflop_tolerance);
    const PowerLaw lb = kaplan_law(theirs, 'c', true, opt.isoflop_tolerance);
    std::vector<double> v;
    for (double c : budgets) {
      const double l = la(c);
      v.insert(v.end(), {l, lb(c), lb.inverse(l) / c});
    }
    return v;
  };
  fill(r, names, q(all), all, q, opt);
  detail::flag_compare_extrapolation(r, arch_runs, baseline_runs);
  return r;
}

}  // namespace scalelab::analysis
