// index.html of the report: plots first, then the tables they summarise.
#include <fmt/format.h>

#include <cmath>

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

std::string multiplier_table(const FitSuite& s) {
  std::string rows;
  std::string baseline;
  for (const FitResult& f : s.fits) {
    if (f.method != "compare") continue;
    baseline = f.extra.value("baseline", "softmax");
    for (size_t i = 0; i + 2 < f.derived.size(); i += 3) {
      const Estimate &l = f.derived[i], &lb = f.derived[i + 1], &m = f.derived[i + 2];
      rows += fmt::format("<tr><td>{}</td><td>{}</td><td>{}{}</td><td>{}{}</td><td><b>{}</b>{}</td></tr>\n",
                          xml_escape(f.arch), format_flops(l.at), format_number(l.value),
                          interval_html(l), format_number(lb.value), interval_html(lb),
                          format_number(m.value), interval_html(m));
    }
  }
  if (rows.empty())
    return "<p>No comparison: it needs a baseline architecture and another one, each with an "
           "L(C) fit (3 or more model sizes). See the notes below.</p>\n";
  return fmt::format(
      "<p>Compute multiplier m(C) = C<sub>{0}</sub>(L<sub>arch</sub>(C)) / C: the compute {0} "
      "needs to reach the loss the architecture reaches with C. m &gt; 1: the architecture is "
      "more compute-efficient than {0}; m = inf: {0}'s fitted floor E is above that loss. "
      "Brackets: bootstrap intervals (runs resampled within each architecture).</p>\n"
      "<table><tr><th>architecture</th><th>budget C (FLOPs)</th><th>loss</th><th>{0} "
      "loss</th><th>multiplier vs {0}</th></tr>\n{1}</table>\n",
      xml_escape(baseline), rows);
}

std::string fits_table(const FitSuite& s) {
  std::string out = "<table><tr><th>method</th><th>architecture</th><th>law</th><th>runs</th>"
                    "<th>parameters (bootstrap interval)</th><th>derived at budgets</th></tr>\n";
  for (const FitResult& f : s.fits) {
    if (f.method == "compare") continue;
    std::string params, derived;
    for (const Estimate& e : f.params)
      params += fmt::format("{} = {}{}<br>", xml_escape(e.name), format_number(e.value), interval_html(e));
    if (f.extra.contains("interval_note"))
      params += "<span class=small>" + xml_escape(f.extra["interval_note"].get<std::string>()) + "</span>";
    for (const Estimate& e : f.derived)
      derived += fmt::format("{}@{} = {}{}<br>", xml_escape(e.name), format_flops(e.at),
                             format_number(e.value), interval_html(e));
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=small>{}</td></tr>\n",
                       f.method, xml_escape(f.arch.empty() ? "pooled" : f.arch),
                       xml_escape(f.formula), f.n_points, params, derived);
  }
  return out + "</table>\n";
}

std::string runs_table(const std::vector<RunPoint>& runs, NAxis axis) {
  std::string out = fmt::format(
      "<table><tr><th>run</th><th>name</th><th>architecture</th><th>params (total)</th>"
      "<th>N ({})</th><th>tokens D</th><th>compute C (FLOPs)</th><th>final loss</th>"
      "<th>curve points</th></tr>\n",
      to_string(axis));
  for (const RunPoint& r : runs)
    out += fmt::format("<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{:.4g}</td><td>{:.4g}</td>"
                       "<td>{:.4g}</td><td>{:.3g}</td><td>{:.4f}</td><td>{}</td></tr>\n",
                       xml_escape(r.id), xml_escape(r.name), xml_escape(r.arch), r.n_total, r.n,
                       r.d, r.c, r.loss, r.curve.size());
  return out + "</table>\n";
}

const char* kStyle = R"(<style>
body { font-family: sans-serif; margin: 2em; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.ci { color: #666; }
.small { font-size: 12px; }
.note { color: #8a4b00; }
figure { margin: 1em 0; }
</style>)";

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
  h += "<h2>Loss vs compute</h2>\n<figure>" + loss_vs_compute_svg(in) + "</figure>\n";
  h += "<h2>Compute multiplier vs baseline</h2>\n" + multiplier_table(in.suite);
  const std::string iso = isoflop_svg(in);
  h += "<h2>IsoFLOP profiles</h2>\n";
  h += iso.empty() ? "<p>No compute budget has two or more runs.</p>\n" : "<figure>" + iso + "</figure>\n";
  const std::string nopt = optimal_n_svg(in);
  if (!nopt.empty()) h += "<h2>Compute-optimal size</h2>\n<figure>" + nopt + "</figure>\n";
  h += "<h2>Fits</h2>\n" + fits_table(in.suite);
  if (!in.suite.notes.empty()) {
    h += "<h3>Skipped</h3>\n<ul>\n";
    for (const std::string& n : in.suite.notes) h += "<li class=note>" + xml_escape(n) + "</li>\n";
    h += "</ul>\n";
  }
  h += "<h2>Runs</h2>\n" + runs_table(in.runs, in.n_axis);
  h += "<p>Files beside this page: fits.json, fits.csv, runs.csv, loss_vs_compute.svg.</p>\n";
  return h + "</body></html>\n";
}

}  // namespace scalelab::analysis
