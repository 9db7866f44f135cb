#include "analysis/fits.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "analysis/allocation.h"
#include "analysis/bootstrap.h"
#include "analysis/chinchilla3.h"
#include "analysis/powerlaw.h"

namespace scalelab::analysis {
namespace {

using Quantities = std::function<std::vector<double>(const std::vector<RunPoint>&)>;

struct Names {
  std::vector<std::string> params;
  std::vector<std::pair<std::string, double>> derived;  // name, budget
  size_t size() const { return params.size() + derived.size(); }
};

std::vector<RunPoint> subset(const std::vector<RunPoint>& runs, const std::vector<size_t>& idx) {
  std::vector<RunPoint> out;
  out.reserve(idx.size());
  for (size_t i : idx) out.push_back(runs[i]);
  return out;
}

std::vector<int> strata_by_arch(const std::vector<RunPoint>& runs) {
  std::map<std::string, int> ids;
  std::vector<int> out;
  for (const RunPoint& r : runs) out.push_back(ids.emplace(r.arch, ids.size()).first->second);
  return out;
}

// Fills R's estimates from the full-data VALUES and, with opt.bootstrap > 0,
// their intervals from Q refitted on resampled runs.
void fill(FitResult& r, const Names& names, const std::vector<double>& values,
          const std::vector<RunPoint>& runs, const Quantities& q, const FitOptions& opt) {
  BootstrapOptions bo{opt.bootstrap, opt.seed, opt.level, opt.threads};
  const BootstrapResult b = bootstrap(
      strata_by_arch(runs), names.size(),
      [&](const std::vector<size_t>& idx) { return q(subset(runs, idx)); }, bo);
  r.bootstrap = opt.bootstrap;
  r.bootstrap_ok = b.ok;
  r.level = opt.level;
  // Resamples that cannot be refitted are those with too few distinct runs; when
  // they are most of them, the survivors are mostly the original sample and
  // their spread would be a falsely narrow interval (zero-width with as many
  // runs as parameters). Then no interval is given, and the fit says why.
  const bool identifiable = opt.bootstrap > 0 && 2 * b.ok >= opt.bootstrap;
  if (opt.bootstrap > 0 && !identifiable)
    r.extra["interval_note"] = fmt::format(
        "no intervals: only {} of {} resamples could be refitted ({} runs{}); add runs", b.ok,
        opt.bootstrap, runs.size(),
        names.params.empty() ? "" : fmt::format(" for {} parameters", names.params.size()));
  for (size_t k = 0; k < names.size(); ++k) {
    Estimate e;
    e.value = values[k];
    if (identifiable) {
      e.lo = b.lo[k];
      e.hi = b.hi[k];
    }
    if (k < names.params.size()) {
      e.name = names.params[k];
      r.params.push_back(e);
    } else {
      e.name = names.derived[k - names.params.size()].first;
      e.at = names.derived[k - names.params.size()].second;
      r.derived.push_back(e);
    }
  }
}

void base(FitResult& r, const std::string& method, const std::string& arch,
          const std::vector<RunPoint>& runs, const FitOptions& opt) {
  r.method = method;
  r.arch = arch;
  r.n_points = static_cast<int>(runs.size());
  r.extra["compute"] = to_string(opt.compute);
  r.extra["n_axis"] = to_string(opt.n_axis);
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

double round2(double v) {
  if (!(v > 0)) return v;
  const double p = std::pow(10.0, std::floor(std::log10(v)) - 1);
  return std::round(v / p) * p;
}

std::vector<double> budgets_of(const std::vector<RunPoint>& runs, const FitOptions& opt) {
  return opt.budgets.empty() ? default_budgets(runs) : opt.budgets;
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

}  // namespace

std::vector<double> default_budgets(const std::vector<RunPoint>& runs) {
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (const RunPoint& r : runs) {
    lo = std::min(lo, r.c);
    hi = std::max(hi, r.c);
  }
  if (runs.empty()) return {};
  std::vector<double> out = {round2(lo), round2(std::sqrt(lo * hi)), round2(hi), round2(10 * hi)};
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
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
  const Quantities q = [&](const std::vector<RunPoint>& rs) {
    const auto [x, y] = kaplan_points(rs, axis, opt.isoflop_tolerance);
    const PowerLaw law = fit_power_law(x, y, with_e);
    std::vector<double> v;
    if (with_e) v.push_back(law.E);
    v.insert(v.end(), {law.A, law.alpha});
    for (double c : budgets) v.push_back(law(c));
    return v;
  };
  const auto [x, y] = kaplan_points(runs, axis, opt.isoflop_tolerance);
  r.extra["rms_log_residual"] = fit_power_law(x, y, with_e).rms_log_residual;
  fill(r, names, q(runs), runs, q, opt);
  return r;
}

FitResult fit_approach1(const std::vector<RunPoint>& runs, const std::string& arch,
                        const FitOptions& opt) {
  FitResult r;
  base(r, "chinchilla1", arch, runs, opt);
  r.formula = "N_opt = k_n * C^a, D_opt = k_d * C^b (training-curve envelope)";
  const std::vector<double> budgets = budgets_of(runs, opt);
  Names names{{"a", "k_n", "b", "k_d"}, {}};
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
  return r;
}

FitResult fit_approach2(const std::vector<RunPoint>& runs, const std::string& arch,
                        const FitOptions& opt) {
  FitResult r;
  base(r, "chinchilla2", arch, runs, opt);
  r.formula = "N_opt = k_n * C^a, D_opt = k_d * C^b (IsoFLOP parabolas in log N)";
  const std::vector<double> budgets = budgets_of(runs, opt);
  Names names{{"a", "k_n", "b", "k_d"}, {}};
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
  return r;
}

FitResult fit_approach3(const std::vector<RunPoint>& runs, const std::string& arch,
                        const FitOptions& opt) {
  // Five parameters from fewer than 10 runs is interpolation, not a law.
  if (runs.size() < 10)
    throw FitError(fmt::format("approach 3 fits 5 parameters; {} run(s), need at least 10",
                               runs.size()));
  FitResult r;
  base(r, "chinchilla3", arch, runs, opt);
  r.formula = "L(N, D) = E + A / N^alpha + B / D^beta; N_opt, D_opt for C = 6 N D";
  const std::vector<double> budgets = budgets_of(runs, opt);
  Names names{{"E", "A", "B", "alpha", "beta", "a", "b"}, {}};
  allocation_names(names, budgets);
  for (double c : budgets) names.derived.push_back({"loss_opt", c});
  auto points = [](const std::vector<RunPoint>& rs) {
    std::vector<NDPoint> p;
    for (const RunPoint& x : rs) p.push_back({x.n, x.d, x.loss});
    return p;
  };
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
    full = fit_chinchilla3(points(runs), full_opt);
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
    Chinchilla3Options o;
    o.starts = boot_starts;
    o.threads = 1;  // the bootstrap already runs replicates in parallel
    return values(fit_chinchilla3(points(rs), o).params);
  };
  fill(r, names, values(full.params), runs, q, opt);
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
  const std::vector<double> budgets = budgets_of(all, opt);
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
    const auto [xa, ya] = kaplan_points(mine, 'c', opt.isoflop_tolerance);
    const auto [xb, yb] = kaplan_points(theirs, 'c', opt.isoflop_tolerance);
    const PowerLaw la = fit_power_law(xa, ya, true), lb = fit_power_law(xb, yb, true);
    std::vector<double> v;
    for (double c : budgets) {
      const double l = la(c);
      v.insert(v.end(), {l, lb(c), lb.inverse(l) / c});
    }
    return v;
  };
  fill(r, names, q(all), all, q, opt);
  return r;
}

}  // namespace scalelab::analysis
