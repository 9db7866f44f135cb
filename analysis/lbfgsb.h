// Bound-constrained L-BFGS-B (Byrd, Lu, Nocedal, Zhu; Morales-Nocedal v3.0, the
// Fortran code scipy.optimize wraps) from Debian's liblbfgsb, behind a C++
// function that takes an objective with its gradient.
#pragma once

#include <Eigen/Core>

#include <functional>
#include <limits>
#include <string>

namespace scalelab::analysis {

// f(x, grad) -> value; grad has x's size and must be filled.
using Objective = std::function<double(const Eigen::VectorXd& x, Eigen::VectorXd& grad)>;

struct LbfgsbOptions {
  int memory = 10;         // m, corrections kept (scipy's default)
  double factr = 1e7;      // stop when the relative f decrease <= factr * eps (scipy: ftol 2.2e-9)
  double pgtol = 1e-5;     // stop when max |projected gradient| <= pgtol (scipy's default)
  int max_iter = 15000;
  int max_evals = 15000;
  // Bounds; infinite means unbounded on that side. Empty means unbounded.
  Eigen::VectorXd lower, upper;
};

struct LbfgsbResult {
  Eigen::VectorXd x;
  double f = std::numeric_limits<double>::quiet_NaN();
  int iterations = 0;
  int evaluations = 0;
  bool converged = false;  // task CONV (either test); false for ABNORMAL, ERROR or limits
  std::string message;     // the Fortran task string, trimmed
};

// Minimises f from x0. Non-finite objective values are returned as a failed
// (non-converged) result instead of being fed back into the line search.
LbfgsbResult minimize_lbfgsb(const Objective& f, const Eigen::VectorXd& x0,
                             const LbfgsbOptions& opt = {});

}  // namespace scalelab::analysis
