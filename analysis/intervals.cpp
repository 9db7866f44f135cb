// Bootstrap intervals for a fit's estimates: which runs are independent, when
// an interval can be given at all, and BCa intervals that contain their point.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "analysis/bootstrap.h"
#include "analysis/fit_detail.h"

namespace scalelab::analysis::detail {
namespace {

struct Units {
  std::vector<int> strata, clusters;
  size_t fewest = 0;          // independent runs of the smallest stratum
  std::string fewest_arch;
  size_t branches = 0, parents = 0;
};

Units units_of(const std::vector<RunPoint>& runs) {
  Units u;
  std::map<std::string, int> strata, clusters;
  std::map<std::string, std::map<std::string, int>> per_arch;
  for (const RunPoint& r : runs) {
    u.strata.push_back(strata.emplace(r.arch, strata.size()).first->second);
    u.clusters.push_back(clusters.emplace(r.unit(), clusters.size()).first->second);
    per_arch[r.arch][r.unit()] += 1;
    u.branches += !r.parent.empty();
  }
  u.fewest = runs.size();
  for (const auto& [arch, us] : per_arch)
    if (us.size() <= u.fewest) u.fewest = us.size(), u.fewest_arch = arch;
  std::map<std::string, int> parents;
  for (const RunPoint& r : runs)
    if (!r.parent.empty()) parents[r.parent] = 1;
  u.parents = parents.size();
  return u;
}

std::string resampling_text(const Units& u, size_t runs) {
  if (u.branches == 0)
    return fmt::format("{} runs resampled within each architecture", runs);
  return fmt::format("{} independent runs resampled within each architecture: {} WSD parents, "
                     "each with all its branches ({} branch points), and {} plain runs",
                     u.parents + (runs - u.branches), u.parents, u.branches, runs - u.branches);
}

// Why no interval can be given at all, or "".
std::string no_interval_reason(const Units& u, int ok, const FitOptions& opt, size_t n_params,
                               size_t runs) {
  if (u.fewest < 3)
    return fmt::format("{} has {} independent run(s) (a WSD parent counts once with its "
                       "branches); resampling fewer than 3 says nothing about the spread",
                       u.fewest_arch.empty() ? "the fit" : u.fewest_arch, u.fewest);
  // Resamples that cannot be refitted are those with too few distinct runs;
  // when they are most of them, the survivors are mostly the original sample
  // and their spread would be a falsely narrow interval.
  if (2 * ok < opt.bootstrap)
    return fmt::format("only {} of {} resamples could be refitted ({} runs{}); add runs", ok,
                       opt.bootstrap, runs,
                       n_params ? fmt::format(" for {} parameters", n_params) : std::string());
  return "";
}

bool contains(const Interval& iv, double v) {
  if (std::isnan(iv.lo) || std::isnan(iv.hi)) return false;
  if (!std::isfinite(v)) return iv.hi == v || iv.lo == v;
  const double slack = 1e-12 * std::max(1.0, std::fabs(v));
  return iv.lo <= v + slack && v - slack <= iv.hi;
}

}  // namespace

std::vector<RunPoint> subset(const std::vector<RunPoint>& runs, const std::vector<size_t>& idx) {
  std::vector<RunPoint> out;
  out.reserve(idx.size());
  for (size_t i : idx) out.push_back(runs[i]);
  return out;
}

void fill(FitResult& r, const Names& names, const std::vector<double>& values,
          const std::vector<RunPoint>& runs, const Quantities& q, const FitOptions& opt) {
  r.bootstrap = opt.bootstrap;
  r.level = opt.level;
  const size_t np = names.params.size(), nd = names.derived.size();
  std::vector<Interval> iv(names.size(), Interval{kNaN, kNaN, ""});
  if (opt.bootstrap > 0) {
    const Units u = units_of(runs);
    r.extra["resampling"] = resampling_text(u, runs.size());
    r.extra["interval_method"] = "BCa (bias-corrected and accelerated bootstrap, Efron 1987)";
    const Refit refit = [&](const std::vector<size_t>& idx) { return q(subset(runs, idx)); };
    const BootstrapResult b = bootstrap(u.strata, u.clusters, names.size(), refit,
                                        {opt.bootstrap, opt.seed, opt.level, opt.threads});
    r.bootstrap_ok = b.ok;
    const std::string why = no_interval_reason(u, b.ok, opt, np, runs.size());
    if (!why.empty()) {
      r.extra["interval_note"] = "no intervals: " + why;
    } else {
      const auto jack = jackknife(u.clusters, names.size(), refit);
      std::vector<std::string> missing;
      std::string reason;
      for (size_t k = 0; k < names.size(); ++k) {
        iv[k] = bca_interval(b.samples[k], values[k], jack[k], opt.level,
                             static_cast<int>(u.fewest));
        if (iv[k].note.empty() && !contains(iv[k], values[k]))
          iv[k].note = "its interval would not contain the estimate";
        if (iv[k].note.empty() || k >= np + nd) continue;
        missing.push_back(k < np ? names.params[k] : names.derived[k - np].first);
        reason = iv[k].note;
      }
      if (!missing.empty()) {
        missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
        std::string list;
        for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
        r.extra["interval_note"] = fmt::format("no interval for {}: {}", list, reason);
      }
    }
  }
  for (size_t k = 0; k < np + nd; ++k) {
    Estimate e;
    e.value = values[k];
    if (iv[k].note.empty()) e.lo = iv[k].lo, e.hi = iv[k].hi;
    if (k < np) {
      e.name = names.params[k];
      r.params.push_back(e);
    } else {
      e.name = names.derived[k - np].first;
      e.at = names.derived[k - np].second;
      r.derived.push_back(e);
    }
  }
  if (names.band.empty()) return;
  nlohmann::json band = {{"x", nlohmann::json::array()}, {"y", nlohmann::json::array()},
                         {"lo", nlohmann::json::array()}, {"hi", nlohmann::json::array()}};
  for (size_t k = 0; k < names.band.size(); ++k) {
    const Interval& i = iv[np + nd + k];
    band["x"].push_back(names.band[k]);
    band["y"].push_back(number_json(values[np + nd + k]));
    band["lo"].push_back(number_json(i.note.empty() ? i.lo : kNaN));
    band["hi"].push_back(number_json(i.note.empty() ? i.hi : kNaN));
  }
  r.extra["band"] = band;
}

}  // namespace scalelab::analysis::detail
