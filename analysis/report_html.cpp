// index.html of the report: plots first, then the tables they summarise.
// Every missing interval and every extrapolation is said where it is shown.
#include <fmt/format.h>

#include <cmath>
#include <set>

#include "analysis/export.h"
#include "analysis/report.h"
#include "analysis/svg.h"
#include "db/db.h"

namespace scalelab::analysis {
namespace {

std::string interval_html(const Estimate& e) {
  if (std::isnan(e.lo) && std::isnan(e.hi)) return "";
  return fmt::format(" <span class=ci>[{}, {}]</span>", format_number(e.lo), format_number(e.hi));
}

std::string extrapolation_html(const Estimate& e) {
  if (e.extrapolation.empty()) return "";
  return " <span class=ex title=\"" + xml_escape(e.extrapolation) + "\">extrapolated: " +
         xml_escape(e.extrapolation) + "</span>";
}

std::string value_html(const Estimate& e, bool bold = false) {
  const std::string v = format_number(e.value);
  return (bold ? "<b>" + v + "</b>" : v) + interval_html(e) + extrapolation_html(e);
}

// What the brackets of a table of FITS mean, and (LIST_MISSING) which fits
// have none and why.
std::string intervals_note(const std::vector<const FitResult*>& fits, bool list_missing) {
  std::set<std::string> missing, resampling;
  bool any = false;
  for (const FitResult* f : fits) {
    if (f->extra.contains("interval_note"))
      missing.insert((f->arch.empty() ? "pooled" : f->arch) + ": " +
                     f->extra["interval_note"].get<std::string>());
    if (f->extra.contains("resampling")) resampling.insert(f->extra["resampling"].get<std::string>());
    for (const Estimate& e : f->derived) any = any || !std::isnan(e.lo);
    for (const Estimate& e : f->params) any = any || !std::isnan(e.lo);
  }
  std::string out;
  if (any) {
    out = fmt::format("<p class=small>Brackets: {:.0f}% BCa bootstrap intervals", 100 * fits.front()->level);
    for (const std::string& r : resampling) out += "; " + xml_escape(r);
    out += ".</p>\n";
  } else if (!fits.empty() && fits.front()->bootstrap == 0) {
    out = "<p class=note>No intervals: the fits were made without a bootstrap (--bootstrap 0).</p>\n";
  }
  if (list_missing)
    for (const std::string& m : missing) out += "<p class=note>" + xml_escape(m) + "</p>\n";
  return out;
}

std::string multiplier_table(const FitSuite& s) {
  std::string rows, baseline;
  std::vector<const FitResult*> fits;
  for (const FitResult& f : s.fits) {
    if (f.method != "compare") continue;
    fits.push_back(&f);
    baseline = f.extra.value("baseline", "softmax");
    for (size_t i = 0; i + 2 < f.derived.size(); i += 3) {
      const Estimate &l = f.derived[i], &lb = f.derived[i + 1], &m = f.derived[i + 2];
      rows += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                          xml_escape(f.arch), format_flops(l.at), value_html(l), value_html(lb),
                          value_html(m, true));
    }
  }
  if (rows.empty())
    return "<p>No comparison: it needs a baseline architecture and another one, each with an "
           "L(C) fit with residual degrees of freedom, and compute ranges that overlap. See the "
           "notes below.</p>\n";
  return fmt::format(
      "<p>Compute multiplier m(C) = C<sub>{0}</sub>(L<sub>arch</sub>(C)) / C: the compute {0} "
      "needs to reach the loss the architecture reaches with C. m &gt; 1: the architecture is "
      "more compute-efficient than {0}; m = inf: {0}'s fitted floor E is above that loss. "
      "Budgets lie inside both architectures' runs unless asked for (<code>fit --budgets</code>); "
      "values beyond the runs are marked extrapolated.</p>\n"
      "<div class=side><table><tr><th>architecture</th><th>budget C (FLOPs)</th><th>loss</th><th>{0} "
      "loss</th><th>multiplier vs {0}</th></tr>\n{1}</table>\n<div>{2}</div></div>\n",
      xml_escape(baseline), rows, intervals_note(fits, true));
}

std::string fits_table(const FitSuite& s) {
  std::vector<const FitResult*> fits;
  std::string out = "<table><tr><th>method</th><th>architecture</th><th>law</th><th>points (independent runs)</th>"
                    "<th>parameters (interval)</th><th>derived at budgets</th></tr>\n";
  for (const FitResult& f : s.fits) {
    if (f.method == "compare") continue;
    fits.push_back(&f);
    std::string params, derived;
    for (const Estimate& e : f.params)
      params += fmt::format("{} = {}<br>", xml_escape(e.name), value_html(e));
    if (f.extra.contains("interval_note"))
      params += "<span class=note>" + xml_escape(f.extra["interval_note"].get<std::string>()) + "</span>";
    for (const Estimate& e : f.derived)
      derived += fmt::format("{}@{} = {}<br>", xml_escape(e.name), format_flops(e.at), value_html(e));
    out += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td class=small>{}</td></tr>\n",
        f.method, xml_escape(f.arch.empty() ? "pooled" : f.arch), xml_escape(f.formula),
        f.n_points, f.extra.value("independent_runs", f.n_points), params, derived);
  }
  return intervals_note(fits, false) + out + "</table>\n";
}

std::string runs_table(const std::vector<RunPoint>& runs, NAxis axis) {
  std::string out = fmt::format(
      "<table><tr><th>run</th><th>name</th><th>architecture</th><th>WSD branch of</th>"
      "<th>from step</th><th>params (total)</th><th>N ({})</th><th>tokens D</th>"
      "<th>compute C (FLOPs)</th><th>final loss</th><th>curve points</th></tr>\n",
      to_string(axis));
  for (const RunPoint& r : runs)
    out += fmt::format("<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td>"
                       "<td>{}</td><td>{:.4g}</td><td>{:.4g}</td><td>{:.4g}</td><td>{:.3g}</td>"
                       "<td>{:.4f}</td><td>{}</td></tr>\n",
                       xml_escape(r.id), xml_escape(r.name), xml_escape(r.arch),
                       r.parent.empty() ? "-" : xml_escape(r.parent),
                       r.parent.empty() ? "-" : std::to_string(r.branch_step), r.n_total, r.n,
                       r.d, r.c, r.loss, r.curve.size());
  return out + "</table>\n";
}

const char* kStyle = R"(<style>
body { font-family: sans-serif; margin: 2em; max-width: 1600px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.ci { color: #666; }
.ex { color: #a00; font-size: 11px; }
.small { font-size: 12px; }
.note { color: #8a4b00; font-size: 13px; }
.warning { background: #fff3cd; border: 1px solid #d39e00; padding: 0.6em 1em; }
.side { display: flex; gap: 2em; align-items: flex-start; flex-wrap: wrap; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 1em 0; }
svg { max-width: 100%; height: auto; }
</style>)";

std::string figure(const std::string& svg) { return svg.empty() ? "" : "<figure>" + svg + "</figure>\n"; }

std::string per_architecture(const ReportInput& in) {
  std::string h = "<h2>Runs of each architecture</h2>\n<p>Left: loss along training, training "
                  "loss thin and solid, validation loss dashed with dots; a WSD parent's stable "
                  "phase is drawn once, then each branch's cooldown from its branch point. Right: "
                  "each run's final loss with the approach-3 law L(N, D) at its size.</p>\n";
  for (const std::string& arch : architectures(in.runs))
    h += "<div class=grid>" + figure(run_curves_svg(in, arch)) + figure(approach3_svg(in, arch)) +
         "</div>\n";
  return h;
}

}  // namespace

std::string report_html(const ReportInput& in) {
  std::string h = fmt::format(
      "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>scalelab report</title>\n{}\n"
      "</head><body>\n<h1>scalelab report</h1>\n<p>Source: <code>{}</code>; {} finished runs; "
      "generated {}. Fits: {}.</p>\n<p>Axes: N = {}; D = training tokens; C = {}. Losses are "
      "validation losses in nats/token.</p>\n",
      kStyle, xml_escape(in.source), in.runs.size(), db::utc_now(), xml_escape(in.fits_origin),
      in.n_axis == NAxis::NonEmbedding ? "non-embedding parameters (Kaplan et al. 2020)"
                                       : "total parameters",
      in.compute == Compute::Exact ? "the exact training FLOPs counted from each model spec "
                                     "(forward + backward, attention and state terms included)"
                                   : "6 N D");
  if (!in.warning.empty()) h += "<p class=warning>" + xml_escape(in.warning) + "</p>\n";
  if (in.runs.empty()) return h + evals_html(in) + "</body></html>\n";  // an evals-only database
  h += "<h2>Loss vs compute</h2>\n" + figure(loss_vs_axis_svg(in, 'c'));
  h += "<h2>Compute multiplier vs baseline</h2>\n" + multiplier_table(in.suite);
  h += "<h2>Loss vs size and vs tokens</h2>\n" + figure(loss_vs_axis_svg(in, 'n')) +
       figure(loss_vs_axis_svg(in, 'd'));
  const std::string iso = isoflop_svg(in);
  h += "<h2>IsoFLOP profiles</h2>\n";
  h += iso.empty() ? "<p>No compute budget has two or more runs.</p>\n" : figure(iso);
  const std::string nopt = optimal_n_svg(in);
  if (!nopt.empty()) h += "<h2>Compute-optimal size</h2>\n" + figure(nopt);
  h += per_architecture(in);
  h += evals_html(in);
  h += "<h2>Fits</h2>\n" + fits_table(in.suite);
  if (!in.suite.notes.empty()) {
    h += "<h3>Skipped</h3>\n<ul>\n";
    for (const std::string& n : in.suite.notes) h += "<li class=note>" + xml_escape(n) + "</li>\n";
    h += "</ul>\n";
  }
  if (!in.stages.empty()) {
    h += "<h2>Stages</h2>\n<ul>\n";
    for (const std::string& s : in.stages) h += "<li class=stage>" + xml_escape(s) + "</li>\n";
    h += "</ul>\n";
  }
  h += "<h2>Runs</h2>\n" + runs_table(in.runs, in.n_axis);
  h += "<p>Files beside this page: fits.json, fits.csv, runs.csv, loss_vs_compute.svg.</p>\n";
  return h + "</body></html>\n";
}

}  // namespace scalelab::analysis
