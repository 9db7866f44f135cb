#include "analysis/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "analysis/allocation.h"
#include "analysis/export.h"
#include "analysis/svg.h"
#include "db/db.h"

namespace scalelab::analysis {
namespace {

const FitResult* find_fit(const FitSuite& s, const std::string& method, const std::string& arch) {
  for (const FitResult& f : s.fits)
    if (f.method == method && f.arch == arch) return &f;
  return nullptr;
}

std::vector<double> log_grid(double lo, double hi, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i)
    out.push_back(std::exp(std::log(lo) + (std::log(hi) - std::log(lo)) * i / (n - 1)));
  return out;
}

std::string compute_label(Compute c) {
  return c == Compute::Exact ? "training compute C (FLOPs, exact count)"
                             : "training compute C = 6ND (FLOPs)";
}

std::string n_label(NAxis n) {
  return n == NAxis::NonEmbedding ? "non-embedding parameters N" : "parameters N (total)";
}

// The power law of a kaplan_c / kaplan_c0 fit, sampled over [lo, hi].
Series law_series(const FitResult& f, double lo, double hi, const std::string& colour,
                  const std::string& label, const std::string& dash) {
  Series s{label, colour, {}, {}, Series::Style::Line, dash};
  const Estimate* e = f.find_param("E");
  const double E = e ? e->value : 0, A = f.param("A"), alpha = f.param("alpha");
  for (double c : log_grid(lo, hi, 60)) {
    s.x.push_back(c);
    s.y.push_back(E + A * std::pow(c, -alpha));
  }
  return s;
}

}  // namespace

std::string loss_vs_compute_svg(const ReportInput& in) {
  std::vector<Series> series;
  const std::vector<std::string> archs = architectures(in.runs);
  double cmax = 0;
  for (const RunPoint& r : in.runs) cmax = std::max(cmax, r.c);
  for (size_t k = 0; k < archs.size(); ++k) {
    const std::string col = palette(k);
    Series pts{archs[k] + " (final)", col, {}, {}, Series::Style::Markers, ""};
    double lo = INFINITY;
    for (const RunPoint& r : of_arch(in.runs, archs[k])) {
      pts.x.push_back(r.c);
      pts.y.push_back(r.loss);
      lo = std::min(lo, r.c);
      Series curve{"", col, {}, {}, Series::Style::Faint, ""};
      for (const CurvePoint& p : r.curve) {
        curve.x.push_back(p.c);
        curve.y.push_back(p.loss);
      }
      if (curve.x.size() >= 2) series.push_back(std::move(curve));
    }
    series.push_back(std::move(pts));
    if (const FitResult* f = find_fit(in.suite, "kaplan_c", archs[k]))
      series.push_back(law_series(*f, lo, cmax, col, archs[k] + " fit E+AC^-a", ""));
  }
  if (const FitResult* f = find_fit(in.suite, "kaplan_c", "")) {
    double lo = INFINITY;
    for (const RunPoint& r : in.runs) lo = std::min(lo, r.c);
    series.push_back(law_series(*f, lo, cmax, "#000000", "pooled fit E+AC^-a", "6,4"));
  }
  Chart chart{"Loss vs compute (lines: training curves; bold: L(C) fits)", compute_label(in.compute),
              "validation loss (nats/token)"};
  return render_svg(chart, series);
}

std::string isoflop_svg(const ReportInput& in) {
  std::vector<Series> series;
  const std::vector<std::string> archs = architectures(in.runs);
  size_t colour = 0;
  for (const std::string& arch : archs) {
    const std::vector<RunPoint> rs = of_arch(in.runs, arch);
    const FitResult* fit = find_fit(in.suite, "chinchilla2", arch);
    for (const IsoFlopBudget& b : isoflop_budgets(rs)) {
      if (b.members.size() < 2) continue;
      const std::string col = palette(colour++);
      Series pts{fmt::format("{} C={}", arch, format_flops(b.c)), col, {}, {}, Series::Style::Markers, ""};
      double lo = INFINITY, hi = 0;
      for (size_t i : b.members) {
        pts.x.push_back(rs[i].n);
        pts.y.push_back(rs[i].loss);
        lo = std::min(lo, rs[i].n), hi = std::max(hi, rs[i].n);
      }
      series.push_back(std::move(pts));
      if (!fit) continue;
      for (const auto& j : fit->extra.value("budgets", nlohmann::json::array())) {
        if (!j.contains("parabola") || std::fabs(std::log(j["c"].get<double>() / b.c)) > 0.01) continue;
        Series par{"", col, {}, {}, Series::Style::Line, ""};
        const double q0 = j["parabola"][0], q1 = j["parabola"][1], q2 = j["parabola"][2];
        for (double n : log_grid(lo, hi, 40)) {
          par.x.push_back(n);
          par.y.push_back(q0 + q1 * std::log(n) + q2 * std::log(n) * std::log(n));
        }
        series.push_back(std::move(par));
      }
    }
  }
  if (series.empty()) return "";
  Chart chart{"IsoFLOP profiles: final loss vs size at fixed compute (lines: parabola fits)",
              n_label(in.n_axis), "validation loss (nats/token)"};
  chart.log_y = false;
  return render_svg(chart, series);
}

std::string optimal_n_svg(const ReportInput& in) {
  std::vector<Series> series;
  double lo = INFINITY, hi = 0;
  for (const RunPoint& r : in.runs) lo = std::min(lo, r.c), hi = std::max(hi, r.c);
  hi *= 10;
  const std::vector<std::string> archs = architectures(in.runs);
  for (const FitResult& f : in.suite.fits) {
    // Colour: architecture (as in the loss plot); dashes: approach 1, 2, 3.
    const size_t k = static_cast<size_t>(
        std::find(archs.begin(), archs.end(), f.arch) - archs.begin());
    const std::string who = f.arch.empty() ? "pooled" : f.arch;
    Series s{fmt::format("{} approach {}", who, f.method.substr(f.method.size() - 1)),
             palette(k), {}, {}, Series::Style::Line,
             f.method == "chinchilla1" ? "8,4" : f.method == "chinchilla2" ? "2,3" : ""};
    if (f.method == "chinchilla1" || f.method == "chinchilla2") {
      for (double c : log_grid(lo, hi, 40)) {
        s.x.push_back(c);
        s.y.push_back(f.param("k_n") * std::pow(c, f.param("a")));
      }
    } else if (f.method == "chinchilla3") {
      const double a = f.param("a"), E = f.param("alpha"), B = f.param("beta");
      const double g = std::pow(E * f.param("A") / (B * f.param("B")), 1 / (E + B));
      for (double c : log_grid(lo, hi, 40)) {
        s.x.push_back(c);
        s.y.push_back(g * std::pow(c / 6, a));
      }
    } else {
      continue;
    }
    series.push_back(std::move(s));
  }
  if (series.empty()) return "";
  Chart chart{"Compute-optimal model size N_opt(C)", compute_label(in.compute),
              "N_opt (" + n_label(in.n_axis) + ")"};
  return render_svg(chart, series);
}

std::string write_report(const std::string& dir, const ReportInput& in) {
  std::filesystem::create_directories(dir);
  const std::string svg = loss_vs_compute_svg(in);
  const std::string html = report_html(in);
  const auto path = [&](const char* f) { return (std::filesystem::path(dir) / f).string(); };
  write_file_atomic(path("fits.json"), suite_json(in.suite).dump(2) + "\n");
  write_file_atomic(path("fits.csv"), fits_csv(in.suite.fits));
  write_file_atomic(path("runs.csv"), runs_csv(in.runs, in.n_axis));
  write_file_atomic(path("loss_vs_compute.svg"), svg);
  write_file_atomic(path("index.html"), html);
  return path("index.html");
}

}  // namespace scalelab::analysis
