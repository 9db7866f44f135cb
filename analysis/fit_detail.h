// Internals shared by the fits (fits.cpp), their intervals (intervals.cpp) and
// their extrapolation flags (extrapolation.cpp). Not part of the public API.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "analysis/fits.h"

namespace scalelab::analysis::detail {

// What a fit estimates, in the order its Quantities function returns them:
// parameters, derived quantities at budgets, then the fitted curve at `band`
// x positions (for the interval band the report draws around the fit line).
struct Names {
  std::vector<std::string> params;
  std::vector<std::pair<std::string, double>> derived;  // name, budget
  std::vector<double> band;
  size_t size() const { return params.size() + derived.size() + band.size(); }
};

using Quantities = std::function<std::vector<double>(const std::vector<RunPoint>&)>;

std::vector<RunPoint> subset(const std::vector<RunPoint>& runs, const std::vector<size_t>& idx);

// Fills R's estimates from the full-data VALUES and, with opt.bootstrap > 0,
// their BCa intervals from Q refitted on resampled independent runs (a WSD
// parent with its branches is one). Intervals that cannot be trusted are left
// out and extra["interval_note"] says why: too few independent runs, too few
// resamples refitted, or a bootstrap distribution that misses the estimate.
void fill(FitResult& r, const Names& names, const std::vector<double>& values,
          const std::vector<RunPoint>& runs, const Quantities& q, const FitOptions& opt);

// Marks derived quantities whose budget, N_opt, D_opt (or, for compare, the
// baseline compute the multiplier implies) lie outside RUNS (compare: outside
// either architecture's runs).
void flag_extrapolation(FitResult& r, const std::vector<RunPoint>& runs);
void flag_compare_extrapolation(FitResult& r, const std::vector<RunPoint>& arch_runs,
                                const std::vector<RunPoint>& baseline_runs);

struct AxisRange {
  double lo = 0, hi = 0;
  bool contains(double v) const { return v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9); }
};
AxisRange range_of(const std::vector<RunPoint>& runs, char axis /* 'c', 'n', 'd' */);

// Budgets inside [lo, hi]: lo and hi rounded inwards to 2 significant digits
// and their geometric mean.
std::vector<double> budgets_inside(double lo, double hi);

}  // namespace scalelab::analysis::detail
