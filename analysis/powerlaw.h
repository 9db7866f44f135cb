// Kaplan-style power laws in one variable (Kaplan et al. 2020):
//   L(x) = E + A x^-alpha   (with an irreducible loss E)
//   L(x) =     A x^-alpha   (without)
// for x = C (FLOPs), N (parameters) or D (tokens).
//
// Without E the fit is the exact least-squares line of log L on log x. With E
// it minimises the squared log-loss residuals
//   r_i = log(e^e + e^(a - alpha log(x_i / x_ref))) - log L_i
// by Levenberg-Marquardt (Eigen's unsupported module, MINPACK's algorithm)
// from several starts, E = e^e > 0 and x_ref the geometric mean of x, which
// keeps the Jacobian well conditioned over many decades of x.
#pragma once

#include <vector>

#include "analysis/result.h"

namespace scalelab::analysis {

struct PowerLaw {
  double E = 0;  // 0 when fitted without E
  double A = 0;  // in the units of x (A = A_ref * x_ref^alpha)
  double alpha = 0;
  bool with_e = true;
  double rms_log_residual = 0;  // root mean square of log-loss residuals

  double operator()(double x) const;
  // The x at which the law reaches loss L; +inf when L <= E (never reached).
  double inverse(double loss) const;
};

// Throws FitError when the data cannot determine the law: fewer than 3
// distinct x (2 without E), non-positive or non-finite values, or a loss that
// does not decrease with x (alpha <= 0 on the log-log line).
PowerLaw fit_power_law(const std::vector<double>& x, const std::vector<double>& loss,
                       bool with_e);

}  // namespace scalelab::analysis
