// One fit's answer, as stored in the fits table (db::Fit::result_json) and
// exported to fits.json / fits.csv: named estimates with bootstrap intervals.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace scalelab::analysis {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A fit that cannot be made from the data it was given (too few runs, sizes or
// budgets, all-equal compute, loss not decreasing): the message says what is
// missing. Callers skip the method and report the message.
struct FitError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Estimate {
  std::string name;   // "E", "alpha", "N_opt", "multiplier", ...
  double value = kNaN;
  double lo = kNaN, hi = kNaN;  // bootstrap BCa interval; NaN without one (extra says why)
  double at = kNaN;             // compute budget (FLOPs) for derived quantities
  // Derived quantities: "" when every axis value behind it (the budget C, and
  // N, D, or the baseline's compute it implies) lies inside the runs' range;
  // otherwise which lies outside and where the data ends. An extrapolation is
  // a prediction of the law, not a measurement.
  std::string extrapolation;
};

struct FitResult {
  std::string method;    // kaplan_c, kaplan_c0, kaplan_n, kaplan_n0, kaplan_d, kaplan_d0,
                         // chinchilla1, chinchilla2, chinchilla3, compare
  std::string arch;      // "" when runs of all architectures are pooled
  std::string formula;   // e.g. "L(C) = E + A * C^-alpha"
  int n_points = 0;      // runs (or points) the fit used
  std::vector<Estimate> params;
  std::vector<Estimate> derived;
  int bootstrap = 0;     // replicates asked for
  int bootstrap_ok = 0;  // replicates that produced a fit
  double level = 0.95;   // interval coverage
  nlohmann::json extra = nlohmann::json::object();  // axes, diagnostics, plot data

  // The named parameter's value; throws std::out_of_range when absent.
  double param(const std::string& name) const;
  const Estimate* find_param(const std::string& name) const;
};

// Non-finite numbers are written as the strings "inf", "-inf", "nan" (JSON has
// no such numbers) and read back as such.
nlohmann::json number_json(double v);
double number_from_json(const nlohmann::json& j);

nlohmann::json to_json(const FitResult& r);
FitResult fit_result_from_json(const nlohmann::json& j);

}  // namespace scalelab::analysis
