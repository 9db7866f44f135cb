// The report's per-architecture charts: every run's loss along its training
// (training and validation told apart; a WSD parent's stable phase and each
// branch's cooldown), and the approach-3 law against the branch points.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "analysis/report.h"
#include "analysis/report_charts.h"

namespace scalelab::analysis {
namespace {

using namespace charts;

// Runs of one independent unit (a parent's branches, or one plain run).
std::map<double, std::vector<const RunPoint*>> by_size(const std::vector<RunPoint>& rs) {
  std::map<double, std::vector<const RunPoint*>> out;
  for (const RunPoint& r : rs) out[r.n].push_back(&r);
  return out;
}

// Training loss (thin) and validation loss (dashed, dots) of the points of
// R's curve that satisfy KEEP.
template <class Keep>
void add_curve(std::vector<Series>& out, const RunPoint& r, const std::string& col, Keep keep) {
  Series train = series("", col, Series::Style::Faint), val = series("", col, Series::Style::Line, "5,3");
  val.dots = true;
  for (const CurvePoint& p : r.curve) {
    if (!keep(p)) continue;
    if (std::isfinite(p.train)) train.x.push_back(p.d), train.y.push_back(p.train);
    if (std::isfinite(p.val)) val.x.push_back(p.d), val.y.push_back(p.val);
  }
  if (train.x.size() >= 2) out.push_back(std::move(train));
  if (!val.x.empty()) out.push_back(std::move(val));  // one evaluation is still a dot
}

}  // namespace

std::string run_curves_svg(const ReportInput& in, const std::string& arch) {
  std::vector<Series> out;
  const std::vector<RunPoint> rs = of_arch(in.runs, arch);
  size_t k = 0;
  for (const auto& [n, runs] : by_size(rs)) {
    const std::string col = palette(k++);
    // The parent's stable phase once (from its latest branch, which holds all
    // of it), then each branch's own cooldown.
    const RunPoint* latest = *std::max_element(runs.begin(), runs.end(), [](auto* a, auto* b) {
      return a->branch_step < b->branch_step;
    });
    add_curve(out, *latest, col, [](const CurvePoint& p) { return !p.own; });
    for (const RunPoint* r : runs) add_curve(out, *r, col, [](const CurvePoint& p) { return p.own; });
    Series fin = series(fmt::format("N {}: final loss{}", short_count(n),
                                    runs.front()->parent.empty() ? "" : "es of its branches"),
                        col, Series::Style::Markers);
    for (const RunPoint* r : runs) fin.x.push_back(r->d), fin.y.push_back(r->loss);
    out.push_back(std::move(fin));
  }
  if (out.empty()) return "";
  out.push_back(series("training loss (mean per log row)", "#555555", Series::Style::Faint));
  Series v = series("validation loss", "#555555", Series::Style::Line, "5,3");
  v.dots = true;
  out.push_back(std::move(v));
  Chart chart{arch + ": loss along training", "tokens seen", "loss (nats/token)"};
  chart.log_x = false;
  chart.width = 700;
  chart.height = 380;
  return render_svg(chart, out);
}

std::string approach3_svg(const ReportInput& in, const std::string& arch) {
  const FitResult* f = find_fit(in.suite, "chinchilla3", arch);
  if (!f) return "";
  const std::vector<RunPoint> rs = of_arch(in.runs, arch);
  double dlo = INFINITY, dhi = 0;
  for (const RunPoint& r : rs) dlo = std::min(dlo, r.d), dhi = std::max(dhi, r.d);
  const double E = f->param("E"), A = f->param("A"), B = f->param("B"), al = f->param("alpha"),
               be = f->param("beta");
  std::vector<Series> out;
  size_t k = 0;
  for (const auto& [n, runs] : by_size(rs)) {
    const std::string col = palette(k++);
    Series pts = series(fmt::format("N {}", short_count(n)), col, Series::Style::Markers);
    for (const RunPoint* r : runs) pts.x.push_back(r->d), pts.y.push_back(r->loss);
    Series law = series("", col, Series::Style::Line);
    for (double d : log_grid(dlo, dhi, 30))
      law.x.push_back(d), law.y.push_back(E + A / std::pow(n, al) + B / std::pow(d, be));
    out.push_back(std::move(pts));
    out.push_back(std::move(law));
  }
  out.push_back(series("L(N, D) = E + A/N^alpha + B/D^beta", "#555555", Series::Style::Line));
  Chart chart{arch + ": approach 3 against each run's final loss", "training tokens D",
              "final validation loss (nats/token)"};
  chart.width = 700;
  chart.height = 380;
  return render_svg(chart, out);
}

}  // namespace scalelab::analysis
