#include "analysis/allocation.h"

#include <fmt/format.h>

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <set>

namespace scalelab::analysis {

double AllocationLaw::n_opt(double c) const { return k_n * std::pow(c, a); }
double AllocationLaw::d_opt(double c) const { return k_d * std::pow(c, b); }

namespace {

// Least-squares line y = slope x + intercept.
std::pair<double, double> line(const std::vector<double>& x, const std::vector<double>& y) {
  const Eigen::Map<const Eigen::ArrayXd> u(x.data(), static_cast<Eigen::Index>(x.size()));
  const Eigen::Map<const Eigen::ArrayXd> v(y.data(), static_cast<Eigen::Index>(y.size()));
  const double mu = u.mean(), mv = v.mean();
  const double slope = ((u - mu) * (v - mv)).sum() / (u - mu).square().sum();
  return {slope, mv - slope * mu};
}

AllocationLaw law_through(const std::vector<double>& c, const std::vector<double>& n,
                          const std::vector<double>& d) {
  std::vector<double> lc, ln, ld;
  for (size_t i = 0; i < c.size(); ++i) {
    lc.push_back(std::log(c[i]));
    ln.push_back(std::log(n[i]));
    ld.push_back(std::log(d[i]));
  }
  const auto [a, in] = line(lc, ln);
  const auto [b, id] = line(lc, ld);
  return {a, std::exp(in), b, std::exp(id)};
}

// Log-loss of RUN's curve at log-compute LC, linear in log C; NaN outside it.
double curve_log_loss_at(const RunPoint& run, double lc) {
  const auto& cv = run.curve;
  if (cv.empty() || lc < std::log(cv.front().c) - 1e-12 || lc > std::log(cv.back().c) + 1e-12)
    return kNaN;
  for (size_t i = 1; i < cv.size(); ++i) {
    const double l0 = std::log(cv[i - 1].c), l1 = std::log(cv[i].c);
    if (lc <= l1 + 1e-12) {
      const double t = l1 > l0 ? std::clamp((lc - l0) / (l1 - l0), 0.0, 1.0) : 1.0;
      return (1 - t) * std::log(cv[i - 1].loss) + t * std::log(cv[i].loss);
    }
  }
  return std::log(cv.back().loss);
}

}  // namespace

Approach1Fit fit_chinchilla1(const std::vector<RunPoint>& runs, int grid) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const RunPoint& r : runs)
    if (r.curve.size() >= 2) {
      lo = std::min(lo, std::log(r.curve.front().c));
      hi = std::max(hi, std::log(r.curve.back().c));
    }
  if (!(hi > lo)) throw FitError("approach 1 needs logged loss curves (none with >= 2 points)");
  Approach1Fit fit;
  std::set<double> winners;
  std::vector<double> cs, ns, ds;
  for (int g = 0; g < grid; ++g) {
    const double lc = lo + (hi - lo) * g / (grid - 1);
    double best = std::numeric_limits<double>::infinity();
    const RunPoint* win = nullptr;
    for (const RunPoint& r : runs) {
      const double ll = curve_log_loss_at(r, lc);
      if (ll < best) {
        best = ll;
        win = &r;
      }
    }
    if (!win) continue;
    const double c = std::exp(lc);
    const double d = c * win->d / win->c;  // tokens seen when the run had spent c
    fit.envelope.push_back({c, win->n, d, std::exp(best), win->id});
    winners.insert(win->n);
    cs.push_back(c);
    ns.push_back(win->n);
    ds.push_back(d);
  }
  fit.distinct_sizes = static_cast<int>(winners.size());
  if (winners.size() < 3)
    throw FitError(fmt::format(
        "approach 1: only {} model size(s) are ever on the loss envelope (need 3)",
        winners.size()));
  fit.law = law_through(cs, ns, ds);
  return fit;
}

std::vector<IsoFlopBudget> isoflop_budgets(const std::vector<RunPoint>& runs, double tolerance) {
  std::vector<size_t> order(runs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return runs[a].c < runs[b].c; });
  std::vector<IsoFlopBudget> out;
  double first = 0;
  for (size_t i : order) {
    if (out.empty() || runs[i].c > first * (1 + tolerance)) {
      out.emplace_back();
      first = runs[i].c;
    }
    out.back().members.push_back(i);
  }
  for (IsoFlopBudget& b : out) {
    double lsum = 0;
    std::set<double> sizes;
    for (size_t i : b.members) {
      lsum += std::log(runs[i].c);
      sizes.insert(runs[i].n);
    }
    b.c = std::exp(lsum / static_cast<double>(b.members.size()));
    b.distinct_sizes = static_cast<int>(sizes.size());
  }
  return out;
}

namespace {

// Fits the parabola and vertex of one budget; sets note when unusable.
void fit_budget(const std::vector<RunPoint>& runs, IsoFlopBudget& b) {
  if (b.distinct_sizes < 3) {
    b.note = fmt::format("{} distinct size(s), a parabola needs 3", b.distinct_sizes);
    return;
  }
  const Eigen::Index m = static_cast<Eigen::Index>(b.members.size());
  Eigen::MatrixXd X(m, 3);
  Eigen::VectorXd y(m);
  std::vector<double> lx, ld;
  for (Eigen::Index k = 0; k < m; ++k) {
    const RunPoint& r = runs[b.members[static_cast<size_t>(k)]];
    const double x = std::log(r.n);
    X.row(k) << 1, x, x * x;
    y[k] = r.loss;
    lx.push_back(x);
    ld.push_back(std::log(r.d));
  }
  const Eigen::Vector3d q = X.colPivHouseholderQr().solve(y);
  b.q0 = q[0];
  b.q1 = q[1];
  b.q2 = q[2];
  if (!(q[2] > 0)) {
    b.note = "the IsoFLOP profile is not convex (no minimum)";
    return;
  }
  const double xv = -q[1] / (2 * q[2]);
  const auto [lo, hi] = std::minmax_element(lx.begin(), lx.end());
  if (xv < *lo || xv > *hi) {
    b.note = "the minimum lies outside the sampled sizes";
    return;
  }
  const auto [slope, intercept] = line(lx, ld);
  b.n_opt = std::exp(xv);
  b.d_opt = std::exp(intercept + slope * xv);
  b.loss_opt = q[0] + q[1] * xv + q[2] * xv * xv;
  b.used = true;
}

}  // namespace

Approach2Fit fit_chinchilla2(const std::vector<RunPoint>& runs, double tolerance) {
  Approach2Fit fit;
  fit.budgets = isoflop_budgets(runs, tolerance);
  std::vector<double> cs, ns, ds;
  for (IsoFlopBudget& b : fit.budgets) {
    fit_budget(runs, b);
    if (!b.used) continue;
    cs.push_back(b.c);
    ns.push_back(b.n_opt);
    ds.push_back(b.d_opt);
  }
  if (cs.size() < 3)
    throw FitError(fmt::format(
        "approach 2: {} of {} compute budget(s) have an IsoFLOP minimum (need 3 budgets with "
        ">= 3 sizes each and the minimum inside the sampled sizes)",
        cs.size(), fit.budgets.size()));
  fit.law = law_through(cs, ns, ds);
  return fit;
}

}  // namespace scalelab::analysis
