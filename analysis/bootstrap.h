// Nonparametric bootstrap over runs: each replicate redraws the runs with
// replacement (within each stratum, e.g. per architecture, so a comparison
// keeps both sides), refits, and the percentile interval of every quantity
// across replicates is its confidence interval (Efron & Tibshirani 1993, ch. 13).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace scalelab::analysis {

struct BootstrapOptions {
  int replicates = 200;
  uint64_t seed = 0;
  double level = 0.95;  // interval [ (1-level)/2, (1+level)/2 ] quantiles
  int threads = 0;      // 0: hardware concurrency
};

struct BootstrapResult {
  std::vector<double> lo, hi;  // one per quantity; NaN when no replicate succeeded
  int ok = 0;                  // replicates whose fit succeeded
  std::vector<std::vector<double>> samples;  // [quantity][ok replicate]
};

// Refit on resampled indices: returns the quantities (always `n_values` of
// them) or throws (that replicate is dropped; a resample with too few
// distinct runs cannot be fitted). Must be safe to call from several threads.
using Refit = std::function<std::vector<double>(const std::vector<size_t>& indices)>;

// strata[i] is the stratum of unit i. The index sets depend only on `seed`,
// so results are the same for any thread count.
BootstrapResult bootstrap(const std::vector<int>& strata, size_t n_values, const Refit& refit,
                          const BootstrapOptions& opt);

// Quantile q in [0, 1] of V (linear interpolation, as numpy's default).
double quantile(std::vector<double> v, double q);

}  // namespace scalelab::analysis
