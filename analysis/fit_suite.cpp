// run_fits(): which fits each architecture gets, and why a method is skipped.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "analysis/fits.h"

namespace scalelab::analysis {
namespace {

bool has_fit(const FitSuite& s, const std::string& method, const std::string& arch) {
  return std::any_of(s.fits.begin(), s.fits.end(),
                     [&](const FitResult& f) { return f.method == method && f.arch == arch; });
}

}  // namespace

FitSuite run_fits(const std::vector<RunPoint>& runs, const FitOptions& opt) {
  check_fit_input(runs);
  FitSuite s;
  auto want = [&](const std::string& m) {
    return std::find(opt.methods.begin(), opt.methods.end(), m) != opt.methods.end() ||
           std::find(opt.methods.begin(), opt.methods.end(), "all") != opt.methods.end();
  };
  auto attempt = [&](const std::string& what, const std::string& arch, auto&& fit) {
    try {
      s.fits.push_back(fit());
    } catch (const FitError& e) {
      s.notes.push_back(fmt::format("{} [{}]: skipped: {}", what, arch.empty() ? "pooled" : arch,
                                    e.what()));
    }
  };
  const std::vector<std::string> archs = architectures(runs);
  for (const std::string& arch : archs) {
    const std::vector<RunPoint> rs = of_arch(runs, arch);
    if (want("kaplan"))
      for (char axis : {'c', 'n', 'd'})
        for (bool with_e : {true, false})
          attempt(fmt::format("kaplan_{}{}", axis, with_e ? "" : "0"), arch,
                  [&] { return fit_kaplan(rs, axis, with_e, arch, opt); });
    if (want("chinchilla1")) attempt("chinchilla1", arch, [&] { return fit_approach1(rs, arch, opt); });
    if (want("chinchilla2")) attempt("chinchilla2", arch, [&] { return fit_approach2(rs, arch, opt); });
    if (want("chinchilla3")) attempt("chinchilla3", arch, [&] { return fit_approach3(rs, arch, opt); });
  }
  if (!want("kaplan")) return s;
  // Architectures differ in their laws; one curve through all of them is a
  // different question, answered only when asked.
  if (opt.pool && archs.size() > 1)
    for (bool with_e : {true, false})
      attempt(with_e ? "kaplan_c" : "kaplan_c0", "",
              [&] { return fit_kaplan(runs, 'c', with_e, "", opt); });
  if (!has_fit(s, "kaplan_c", opt.baseline)) {
    if (archs.size() > 1)
      s.notes.push_back(fmt::format(
          "compare: skipped: the baseline '{}' has no kaplan_c fit{}", opt.baseline,
          std::find(archs.begin(), archs.end(), opt.baseline) == archs.end() ? " (no such runs)"
                                                                             : ""));
    return s;
  }
  const std::vector<RunPoint> base_runs = of_arch(runs, opt.baseline);
  for (const std::string& arch : archs) {
    if (arch == opt.baseline || !has_fit(s, "kaplan_c", arch)) continue;
    attempt("compare", arch, [&] { return fit_compare(of_arch(runs, arch), base_runs, arch, opt); });
  }
  return s;
}

}  // namespace scalelab::analysis
