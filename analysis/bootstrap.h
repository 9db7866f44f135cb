// Nonparametric bootstrap over independent units (Efron & Tibshirani 1993):
// each replicate redraws, within each stratum (an architecture, so a
// comparison keeps both sides), as many clusters as the stratum has, with
// replacement, and refits on all points of the drawn clusters. A cluster is
// what is independent: a plain run, or a WSD parent with all its branches
// (which share its stable phase; resampling them one by one would treat
// correlated points as independent and give intervals that are too narrow).
//
// Intervals are BCa (bias-corrected and accelerated, Efron 1987; E&T ch. 14):
// percentiles of the replicates shifted by the bias z0 (how many replicates
// fall below the full-data estimate) and the acceleration a (the skewness of
// leave-one-cluster-out jackknife estimates), with tails widened for few
// independent units (expanded_tail). Unlike plain percentiles they stay
// centred on the estimate when the replicates are biased;
// tests/analysis/test_coverage checks they cover the truth at the nominal rate.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace scalelab::analysis {

struct BootstrapOptions {
  int replicates = 200;
  uint64_t seed = 0;
  double level = 0.95;  // interval [ (1-level)/2, (1+level)/2 ] quantiles
  int threads = 0;      // 0: hardware concurrency
};

struct BootstrapResult {
  std::vector<double> lo, hi;  // percentile interval per quantity; NaN when no replicate succeeded
  int ok = 0;                  // replicates whose fit succeeded
  std::vector<std::vector<double>> samples;  // [quantity][ok replicate], NaN values left out
};

// Refit on resampled point indices (repeats allowed): returns the quantities
// (always `n_values` of them) or throws (that replicate is dropped; a
// resample with too few distinct runs cannot be fitted). Must be safe to call
// from several threads.
using Refit = std::function<std::vector<double>(const std::vector<size_t>& indices)>;

// strata[i] and clusters[i] are point i's stratum and cluster. The index sets
// depend only on `seed`, so results are the same for any thread count.
BootstrapResult bootstrap(const std::vector<int>& strata, const std::vector<int>& clusters,
                          size_t n_values, const Refit& refit, const BootstrapOptions& opt);
// Every point its own cluster.
BootstrapResult bootstrap(const std::vector<int>& strata, size_t n_values, const Refit& refit,
                          const BootstrapOptions& opt);

// Leave-one-cluster-out refits: [quantity][cluster]; a refit that fails gives
// NaN for all quantities of that cluster.
std::vector<std::vector<double>> jackknife(const std::vector<int>& clusters, size_t n_values,
                                           const Refit& refit);

struct Interval {
  double lo, hi;
  std::string note;  // why there is none (lo, hi NaN then)
};

// The BCa interval of a quantity with full-data value ESTIMATE, replicates
// SAMPLES and jackknife values JACK (empty or any NaN: acceleration 0), from
// UNITS independent units (clusters of the smallest stratum). No interval,
// with the reason, when no replicate lies below the estimate or none above it
// (z0 infinite, or the estimate is the edge of the bootstrap distribution); a
// non-finite estimate gets the replicates' percentiles.
Interval bca_interval(const std::vector<double>& samples, double estimate,
                      const std::vector<double>& jack, double level, int units);

// The nominal lower tail (1 - level) / 2, widened for UNITS independent units
// as Hesterberg's expanded percentile interval does (Hesterberg 2015, "What
// teachers should know about the bootstrap", sec. 4.3): the tail of
// sqrt(G / (G - 1)) t_{G-1}, which undoes the bootstrap's two small-sample
// narrownesses (its variance is (G - 1)/G of the true one, and it knows no
// t distribution). With 20 units a 95% interval uses the 1.6% tails, with 4
// the 0.01% tails: few independent runs give wide intervals, as they should.
double expanded_tail(double level, int units);

// Student's t distribution with integer DF degrees of freedom.
double student_t_cdf(double t, int df);
double student_t_quantile(double p, int df);

// Quantile q in [0, 1] of V (linear interpolation, as numpy's default).
double quantile(std::vector<double> v, double q);

// The standard normal distribution and its inverse (Acklam's rational
// approximation refined by one Halley step: ~1e-15 relative).
double normal_cdf(double x);
double normal_quantile(double p);

}  // namespace scalelab::analysis
