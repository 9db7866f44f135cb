#include "analysis/bootstrap.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <thread>

namespace scalelab::analysis {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(pos));
  if (i + 1 >= v.size()) return v.back();
  const double t = pos - static_cast<double>(i);
  if (t == 0 || v[i] == v[i + 1]) return v[i];  // also keeps inf (a multiplier) from inf - inf
  return v[i] + t * (v[i + 1] - v[i]);
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

double normal_quantile(double p) {
  if (!(p > 0)) return -std::numeric_limits<double>::infinity();
  if (!(p < 1)) return std::numeric_limits<double>::infinity();
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01,  -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  double x;
  if (p < 0.02425 || p > 1 - 0.02425) {
    const double q = std::sqrt(-2 * std::log(p < 0.5 ? p : 1 - p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    if (p > 0.5) x = -x;
  } else {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  const double e = normal_cdf(x) - p;  // one Halley step
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

double student_t_cdf(double t, int df) {
  // Abramowitz & Stegun 26.7.3-4: P(|T| < |t|) in closed form for integer df.
  const double theta = std::atan(std::fabs(t) / std::sqrt(static_cast<double>(df)));
  const double c2 = std::cos(theta) * std::cos(theta), s = std::sin(theta);
  double inside;
  if (df % 2 == 1) {
    double term = std::cos(theta), sum = df > 1 ? term : 0;
    for (int k = 3; k <= df - 2; k += 2) sum += (term *= c2 * (k - 1) / k);
    inside = 2 / M_PI * (theta + s * sum);
  } else {
    double term = 1, sum = 1;
    for (int k = 2; k <= df - 2; k += 2) sum += (term *= c2 * (k - 1) / k);
    inside = s * sum;
  }
  return t >= 0 ? 0.5 + inside / 2 : 0.5 - inside / 2;
}

double student_t_quantile(double p, int df) {
  if (!(p > 0 && p < 1)) return p >= 1 ? INFINITY : -INFINITY;
  double lo = -1e6, hi = 1e6;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * std::max(1.0, std::fabs(hi)); ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

namespace {

// Per stratum, its clusters, each a list of point indices.
using Groups = std::map<int, std::vector<std::vector<size_t>>>;

Groups group(const std::vector<int>& strata, const std::vector<int>& clusters) {
  std::map<int, std::map<int, std::vector<size_t>>> by;
  for (size_t i = 0; i < strata.size(); ++i) by[strata[i]][clusters[i]].push_back(i);
  Groups out;
  for (auto& [s, cs] : by)
    for (auto& [c, members] : cs) out[s].push_back(std::move(members));
  return out;
}

std::vector<std::vector<size_t>> draw(const Groups& groups, size_t points, int replicates,
                                      uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<size_t>> out(static_cast<size_t>(replicates));
  for (auto& idx : out) {
    idx.reserve(points);
    for (const auto& [s, cs] : groups) {
      std::uniform_int_distribution<size_t> pick(0, cs.size() - 1);
      for (size_t k = 0; k < cs.size(); ++k) {
        const auto& members = cs[pick(rng)];
        idx.insert(idx.end(), members.begin(), members.end());
      }
    }
  }
  return out;
}

}  // namespace

BootstrapResult bootstrap(const std::vector<int>& strata, const std::vector<int>& clusters,
                          size_t n_values, const Refit& refit, const BootstrapOptions& opt) {
  BootstrapResult res;
  res.lo.assign(n_values, kNaN);
  res.hi = res.lo;
  res.samples.assign(n_values, {});
  if (opt.replicates <= 0 || strata.empty()) return res;
  const auto sets = draw(group(strata, clusters), strata.size(), opt.replicates, opt.seed);
  std::vector<std::vector<double>> values(sets.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t r; (r = next.fetch_add(1)) < sets.size();) {
      try {
        std::vector<double> v = refit(sets[r]);
        if (v.size() == n_values) values[r] = std::move(v);
      } catch (const std::exception&) {
        // A resample that cannot be fitted is dropped; `ok` reports how many remain.
      }
    }
  };
  unsigned threads = opt.threads > 0 ? static_cast<unsigned>(opt.threads)
                                     : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (const auto& v : values) {
    if (v.empty()) continue;
    ++res.ok;
    for (size_t q = 0; q < n_values; ++q)
      if (!std::isnan(v[q])) res.samples[q].push_back(v[q]);
  }
  const double tail = (1 - opt.level) / 2;
  for (size_t q = 0; q < n_values; ++q) {
    res.lo[q] = quantile(res.samples[q], tail);
    res.hi[q] = quantile(res.samples[q], 1 - tail);
  }
  return res;
}

BootstrapResult bootstrap(const std::vector<int>& strata, size_t n_values, const Refit& refit,
                          const BootstrapOptions& opt) {
  std::vector<int> own(strata.size());
  std::iota(own.begin(), own.end(), 0);
  return bootstrap(strata, own, n_values, refit, opt);
}

std::vector<std::vector<double>> jackknife(const std::vector<int>& clusters, size_t n_values,
                                           const Refit& refit) {
  std::vector<int> ids = clusters;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<std::vector<double>> out(n_values, std::vector<double>(ids.size(), kNaN));
  for (size_t k = 0; k < ids.size(); ++k) {
    std::vector<size_t> keep;
    for (size_t i = 0; i < clusters.size(); ++i)
      if (clusters[i] != ids[k]) keep.push_back(i);
    try {
      const std::vector<double> v = refit(keep);
      if (v.size() == n_values)
        for (size_t q = 0; q < n_values; ++q) out[q][k] = v[q];
    } catch (const std::exception&) {
      // Leaves NaN: that quantity gets no acceleration.
    }
  }
  return out;
}

namespace {

double acceleration(const std::vector<double>& jack) {
  if (jack.size() < 3) return 0;
  double mean = 0;
  for (double v : jack) {
    if (!std::isfinite(v)) return 0;
    mean += v;
  }
  mean /= static_cast<double>(jack.size());
  double s2 = 0, s3 = 0;
  for (double v : jack) {
    const double d = mean - v;
    s2 += d * d;
    s3 += d * d * d;
  }
  return s2 > 0 ? s3 / (6 * std::pow(s2, 1.5)) : 0;
}

}  // namespace

double expanded_tail(double level, int units) {
  const double tail = (1 - level) / 2;
  if (units < 2) return tail;
  const double g = static_cast<double>(units);
  return normal_cdf(std::sqrt(g / (g - 1)) * student_t_quantile(tail, units - 1));
}

Interval bca_interval(const std::vector<double>& samples, double estimate,
                      const std::vector<double>& jack, double level, int units) {
  if (samples.empty()) return {kNaN, kNaN, "no replicate could be refitted"};
  if (!std::isfinite(estimate)) {
    // A multiplier the baseline never reaches: the replicates' percentiles
    // still say how often that happens.
    const double tail = expanded_tail(level, units);
    return {quantile(samples, tail), quantile(samples, 1 - tail), ""};
  }
  double below = 0, strictly_below = 0, strictly_above = 0;
  for (double v : samples) {
    below += v < estimate ? 1.0 : v == estimate ? 0.5 : 0.0;
    strictly_below += v < estimate;
    strictly_above += v > estimate;
  }
  // An estimate at the edge of its replicates (say, a lowest-loss envelope
  // whose best run every resample either keeps or loses) has no interval
  // around it that the bootstrap can vouch for.
  if (strictly_below == 0 || strictly_above == 0)
    return {kNaN, kNaN,
            "every bootstrap replicate lies on one side of the estimate or equals it (the fit "
            "is at a bound, or not smooth in the runs)"};
  const double share = below / static_cast<double>(samples.size());
  const double z0 = normal_quantile(share), a = acceleration(jack);
  auto adjusted = [&](double p) {
    const double z = normal_quantile(p), w = z0 + z;
    const double denom = 1 - a * w;
    if (!(denom > 0)) return p < 0.5 ? 0.0 : 1.0;
    return normal_cdf(z0 + w / denom);
  };
  const double tail = expanded_tail(level, units);
  return {quantile(samples, adjusted(tail)), quantile(samples, adjusted(1 - tail)), ""};
}

}  // namespace scalelab::analysis
