#include "analysis/bootstrap.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <thread>

namespace scalelab::analysis {

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(pos));
  if (i + 1 >= v.size()) return v.back();
  const double t = pos - static_cast<double>(i);
  if (t == 0 || v[i] == v[i + 1]) return v[i];  // also keeps inf (a multiplier) from inf - inf
  return v[i] + t * (v[i + 1] - v[i]);
}

namespace {

std::vector<std::vector<size_t>> draw(const std::vector<int>& strata, int replicates,
                                      uint64_t seed) {
  std::map<int, std::vector<size_t>> groups;
  for (size_t i = 0; i < strata.size(); ++i) groups[strata[i]].push_back(i);
  std::mt19937_64 rng(seed);
  std::vector<std::vector<size_t>> out(static_cast<size_t>(replicates));
  for (auto& idx : out) {
    idx.reserve(strata.size());
    for (auto& [s, members] : groups) {
      std::uniform_int_distribution<size_t> pick(0, members.size() - 1);
      for (size_t k = 0; k < members.size(); ++k) idx.push_back(members[pick(rng)]);
    }
  }
  return out;
}

}  // namespace

BootstrapResult bootstrap(const std::vector<int>& strata, size_t n_values, const Refit& refit,
                          const BootstrapOptions& opt) {
  BootstrapResult res;
  res.lo.assign(n_values, std::numeric_limits<double>::quiet_NaN());
  res.hi = res.lo;
  res.samples.assign(n_values, {});
  if (opt.replicates <= 0 || strata.empty()) return res;
  const auto sets = draw(strata, opt.replicates, opt.seed);
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

}  // namespace scalelab::analysis
