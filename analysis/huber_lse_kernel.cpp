#include "analysis/huber_lse_kernel.h"

#include <cmath>

namespace scalelab::analysis::detail {

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
double huber_lse_fast(const double* log_n, const double* log_d, const double* log_l,
                      std::size_t n, double delta, const double* x, double* grad) {
  const double a = x[0], b = x[1], ee = std::exp(x[2]), alpha = x[3], beta = x[4];
  double v = 0, g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0;
#pragma omp simd reduction(+ : v, g0, g1, g2, g3, g4)
  for (std::size_t i = 0; i < n; ++i) {
    const double e1 = std::exp(a - alpha * log_n[i]);
    const double e2 = std::exp(b - beta * log_d[i]);
    const double s = e1 + e2 + ee;
    const double r = std::log(s) - log_l[i];
    // Huber as 0.5 h^2 + delta (|r| - |h|) with h = clamp(r, +-delta) = dHuber/dr.
    const double h = std::fmin(std::fmax(r, -delta), delta);
    v += 0.5 * h * h + delta * (std::fabs(r) - std::fabs(h));
    const double w = h / s;
    g0 += w * e1;
    g1 += w * e2;
    g2 += w * ee;
    g3 -= w * e1 * log_n[i];
    g4 -= w * e2 * log_d[i];
  }
  grad[0] = g0;
  grad[1] = g1;
  grad[2] = g2;
  grad[3] = g3;
  grad[4] = g4;
  return v;
}

}  // namespace scalelab::analysis::detail
