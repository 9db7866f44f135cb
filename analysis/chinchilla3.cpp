#include "analysis/chinchilla3.h"

#include "analysis/huber_lse_kernel.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <set>
#include <stdexcept>
#include <thread>

namespace scalelab::analysis {

double Chinchilla3Params::n_opt(double compute) const {
  const double g = std::pow(alpha * A / (beta * B), 1.0 / (alpha + beta));
  return g * std::pow(compute / 6.0, beta / (alpha + beta));
}

double Chinchilla3Params::d_opt(double compute) const {
  const double g = std::pow(alpha * A / (beta * B), 1.0 / (alpha + beta));
  return std::pow(compute / 6.0, alpha / (alpha + beta)) / g;
}

double Chinchilla3Params::predict(double n, double d) const {
  return E + A / std::pow(n, alpha) + B / std::pow(d, beta);
}

Eigen::MatrixXd default_chinchilla3_grid() {
  Eigen::MatrixXd g(4500, 5);
  int r = 0;
  for (int ia = 0; ia < 5; ++ia)
    for (int ib = 0; ib < 5; ++ib)
      for (int ie = 0; ie < 5; ++ie)
        for (int ja = 0; ja < 6; ++ja)
          for (int jb = 0; jb < 6; ++jb)
            g.row(r++) << 5.0 * ja, 5.0 * jb, -1.0 + 0.5 * ie, 0.5 * ia, 0.5 * ib;
  return g;
}

double chinchilla3_objective(const Eigen::ArrayXd& log_n, const Eigen::ArrayXd& log_d,
                             const Eigen::ArrayXd& log_l, double delta,
                             const Eigen::VectorXd& x, Eigen::VectorXd& grad) {
  const double a = x[0], b = x[1], e = x[2], alpha = x[3], beta = x[4];
  const Eigen::ArrayXd t1 = a - alpha * log_n;
  const Eigen::ArrayXd t2 = b - beta * log_d;
  // Subtracting the row maximum keeps exp() finite for any start of the grid.
  const Eigen::ArrayXd mx = t1.max(t2).max(e);
  const Eigen::ArrayXd e1 = (t1 - mx).exp();
  const Eigen::ArrayXd e2 = (t2 - mx).exp();
  const Eigen::ArrayXd e3 = (e - mx).exp();
  const Eigen::ArrayXd s = e1 + e2 + e3;
  const Eigen::ArrayXd r = mx + s.log() - log_l;
  // Huber: 0.5 r^2 inside [-delta, delta], delta (|r| - delta/2) outside;
  // with h = clamp(r) both are 0.5 h^2 + delta (|r| - |h|), and h is the derivative.
  const Eigen::ArrayXd h = r.min(delta).max(-delta);
  const double value = (0.5 * h.square() + delta * (r.abs() - h.abs())).sum();
  const Eigen::ArrayXd w = h / s;
  const Eigen::ArrayXd w1 = w * e1, w2 = w * e2;
  grad[0] = w1.sum();
  grad[1] = w2.sum();
  grad[2] = (w * e3).sum();
  grad[3] = -(w1 * log_n).sum();
  grad[4] = -(w2 * log_d).sum();
  return value;
}

namespace {

void check_points(const std::vector<NDPoint>& pts) {
  if (pts.size() < 5)
    throw std::invalid_argument(fmt::format(
        "approach 3 needs at least 5 (N, D, loss) points to fit 5 parameters, got {}",
        pts.size()));
  std::set<double> ns, ds;
  for (size_t i = 0; i < pts.size(); ++i) {
    const NDPoint& p = pts[i];
    if (!(std::isfinite(p.n) && p.n > 0 && std::isfinite(p.d) && p.d > 0 &&
          std::isfinite(p.loss) && p.loss > 0))
      throw std::invalid_argument(fmt::format(
          "point {}: N, D and loss must be finite and positive (N={}, D={}, loss={})", i + 1,
          p.n, p.d, p.loss));
    ns.insert(p.n);
    ds.insert(p.d);
  }
  if (ns.size() < 2 || ds.size() < 2)
    throw std::invalid_argument(fmt::format(
        "approach 3 needs at least 2 distinct N and 2 distinct D, got {} and {}", ns.size(),
        ds.size()));
}

}  // namespace

Chinchilla3Fit fit_chinchilla3(const std::vector<NDPoint>& points, const Chinchilla3Options& opt) {
  check_points(points);
  const Eigen::Index n = static_cast<Eigen::Index>(points.size());
  Eigen::ArrayXd log_n(n), log_d(n), log_l(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    log_n[i] = std::log(points[i].n);
    log_d[i] = std::log(points[i].d);
    log_l[i] = std::log(points[i].loss);
  }
  const Eigen::MatrixXd starts = opt.starts.size() ? opt.starts : default_chinchilla3_grid();
  if (starts.cols() != 5) throw std::invalid_argument("approach 3 starts must have 5 columns");
  const Eigen::Index n_starts = starts.rows();
  const Objective fun = [&](const Eigen::VectorXd& x, Eigen::VectorXd& g) {
    const double v = detail::huber_lse_fast(log_n.data(), log_d.data(), log_l.data(),
                                            static_cast<size_t>(n), opt.huber_delta, x.data(),
                                            g.data());
    if (std::isfinite(v) && g.allFinite()) return v;
    return chinchilla3_objective(log_n, log_d, log_l, opt.huber_delta, x, g);
  };
  std::vector<LbfgsbResult> results(static_cast<size_t>(n_starts));
  std::atomic<Eigen::Index> next{0};
  auto worker = [&] {
    for (Eigen::Index i; (i = next.fetch_add(1)) < n_starts;)
      results[static_cast<size_t>(i)] =
          minimize_lbfgsb(fun, starts.row(i).transpose(), opt.lbfgsb);
  };
  unsigned threads = opt.threads > 0 ? static_cast<unsigned>(opt.threads)
                                     : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min<unsigned>(threads, static_cast<unsigned>(n_starts));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();

  Chinchilla3Fit fit;
  fit.starts = static_cast<int>(n_starts);
  Eigen::Index best = -1;
  for (Eigen::Index i = 0; i < n_starts; ++i) {
    const LbfgsbResult& r = results[static_cast<size_t>(i)];
    if (r.converged) ++fit.converged_starts;
    fit.evaluations += r.evaluations;
    // Like the paper's and Besiroglu's loops: the lowest objective among the
    // starts that finished; ties keep the earlier start, so the result is
    // independent of thread scheduling.
    if (!std::isfinite(r.f) || !r.x.allFinite()) continue;
    if (best < 0 || r.f < results[static_cast<size_t>(best)].f) best = i;
  }
  if (best < 0) throw std::runtime_error("approach 3: no start reached a finite optimum");
  const LbfgsbResult& r = results[static_cast<size_t>(best)];
  fit.x = r.x;
  fit.objective = r.f;
  fit.best_start = starts.row(best).transpose();
  fit.params = {std::exp(r.x[2]), std::exp(r.x[0]), std::exp(r.x[1]), r.x[3], r.x[4]};
  return fit;
}

}  // namespace scalelab::analysis
