#include "analysis/powerlaw.h"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <unsupported/Eigen/LevenbergMarquardt>

#include <algorithm>
#include <cmath>
#include <set>

namespace scalelab::analysis {

double PowerLaw::operator()(double x) const { return E + A * std::pow(x, -alpha); }

double PowerLaw::inverse(double loss) const {
  if (loss <= E) return std::numeric_limits<double>::infinity();
  return std::pow((loss - E) / A, -1.0 / alpha);
}

namespace {

struct LogLine {
  double slope = 0, intercept = 0;
};

LogLine fit_line(const Eigen::ArrayXd& u, const Eigen::ArrayXd& v) {
  const double mu = u.mean(), mv = v.mean();
  const double suu = (u - mu).square().sum();
  const double slope = ((u - mu) * (v - mv)).sum() / suu;
  return {slope, mv - slope * mu};
}

// Residuals in log space of L = e^p0 + e^(p1 - p2 * lu), lu = log(x / x_ref).
struct LseFunctor : Eigen::DenseFunctor<double> {
  LseFunctor(const Eigen::ArrayXd& lu, const Eigen::ArrayXd& ly)
      : Eigen::DenseFunctor<double>(3, static_cast<int>(lu.size())), lu(lu), ly(ly) {}
  int operator()(const InputType& p, ValueType& f) const {
    f = ((std::exp(p[0]) + (p[1] - p[2] * lu).exp()).log() - ly).matrix();
    return 0;
  }
  int df(const InputType& p, JacobianType& j) const {
    const Eigen::ArrayXd t = (p[1] - p[2] * lu).exp();
    const Eigen::ArrayXd s = std::exp(p[0]) + t;
    j.col(0) = (std::exp(p[0]) / s).matrix();
    j.col(1) = (t / s).matrix();
    j.col(2) = (-t * lu / s).matrix();
    return 0;
  }
  const Eigen::ArrayXd& lu;
  const Eigen::ArrayXd& ly;
};

}  // namespace

PowerLaw fit_power_law(const std::vector<double>& x, const std::vector<double>& loss,
                       bool with_e) {
  if (x.size() != loss.size()) throw std::invalid_argument("fit_power_law: size mismatch");
  std::set<double> distinct;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!(std::isfinite(x[i]) && x[i] > 0 && std::isfinite(loss[i]) && loss[i] > 0))
      throw FitError(fmt::format("point {}: x={} loss={}; both must be finite and positive",
                                 i + 1, x[i], loss[i]));
    distinct.insert(x[i]);
  }
  const size_t need = with_e ? 3 : 2;
  if (distinct.size() < need)
    throw FitError(fmt::format("{} distinct x values (need {}{})", distinct.size(), need,
                               distinct.size() == 1 && x.size() > 1 ? "; all runs are equal"
                                                                    : ""));
  const Eigen::Index n = static_cast<Eigen::Index>(x.size());
  Eigen::ArrayXd lx(n), ly(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    lx[i] = std::log(x[static_cast<size_t>(i)]);
    ly[i] = std::log(loss[static_cast<size_t>(i)]);
  }
  const double lref = lx.mean();
  const Eigen::ArrayXd lu = lx - lref;
  const LogLine pure = fit_line(lu, ly);
  if (!(pure.slope < 0))
    throw FitError(fmt::format("loss does not decrease with x (log-log slope {:.3g})", pure.slope));
  PowerLaw best;
  best.with_e = with_e;
  if (!with_e) {
    best.alpha = -pure.slope;
    best.A = std::exp(pure.intercept + best.alpha * lref);
    best.rms_log_residual =
        std::sqrt((pure.intercept + pure.slope * lu - ly).square().mean());
    return best;
  }
  // Starts: E at fractions of the smallest loss, A and alpha from the log-log
  // line of L - E; LM from each, keep the smallest residual.
  const double lmin = std::exp(ly.minCoeff());
  double best_ssr = std::numeric_limits<double>::infinity();
  Eigen::VectorXd best_p;
  for (double frac : {0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99}) {
    const double e0 = std::max(frac * lmin, 1e-3 * lmin);
    const LogLine l = fit_line(lu, (ly.exp() - e0).log());
    Eigen::VectorXd p(3);
    p << std::log(e0), l.intercept, std::max(-l.slope, 1e-3);
    LseFunctor fun(lu, ly);
    Eigen::LevenbergMarquardt<LseFunctor> lm(fun);
    lm.setXtol(1e-12);
    lm.setFtol(1e-12);
    lm.setMaxfev(2000);
    lm.minimize(p);
    Eigen::VectorXd f(n);
    fun(p, f);
    const double ssr = f.squaredNorm();
    if (p.allFinite() && std::isfinite(ssr) && ssr < best_ssr) {
      best_ssr = ssr;
      best_p = p;
    }
  }
  if (best_p.size() == 0 || !(best_p[2] > 0))
    throw FitError("no start converged to a decreasing law");
  best.E = std::exp(best_p[0]);
  best.alpha = best_p[2];
  best.A = std::exp(best_p[1] + best.alpha * lref);
  best.rms_log_residual = std::sqrt(best_ssr / static_cast<double>(n));
  return best;
}

}  // namespace scalelab::analysis
