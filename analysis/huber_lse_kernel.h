// The hot loop of approach 3: the Huber objective of log-sum-exp residuals and
// its gradient, fused over raw arrays. Compiled on its own with -ffast-math so
// GCC vectorises exp/log through glibc's libmvec, and cloned for AVX2 (picked
// at load time), which makes the 4,500-start grid ~6x faster than the Eigen
// expression version. It skips the max-subtraction of a stable LSE: callers
// fall back to chinchilla3_objective() when the result is not finite.
#pragma once

#include <cstddef>

namespace scalelab::analysis::detail {

// x = (a, b, e, alpha, beta); grad[5] is written. Returns the Huber sum.
double huber_lse_fast(const double* log_n, const double* log_d, const double* log_l,
                      std::size_t n, double delta, const double* x, double* grad);

}  // namespace scalelab::analysis::detail
