#include "analysis/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "analysis/allocation.h"
#include "analysis/export.h"
#include "analysis/report_charts.h"
#include "analysis/svg.h"
#include "db/db.h"

namespace scalelab::analysis {
namespace charts {

Series series(std::string label, std::string colour, Series::Style style, std::string dash) {
  Series s;
  s.label = std::move(label);
  s.color = std::move(colour);
  s.style = style;
  s.dash = std::move(dash);
  return s;
}

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

std::string n_label(NAxis n) {
  return n == NAxis::NonEmbedding ? "non-embedding parameters N" : "parameters N (total)";
}

std::string short_count(double v) {
  static const char* units[] = {"", "k", "M", "B", "T"};
  int u = 0;
  while (std::fabs(v) >= 999.5 && u < 4) v /= 1000, ++u;
  return fmt::format("{:.3g}{}", v, units[u]);
}

}  // namespace charts

namespace {

using namespace charts;

std::string compute_label(Compute c) {
  return c == Compute::Exact ? "training compute C (FLOPs, exact count)"
                             : "training compute C = 6ND (FLOPs)";
}

double axis_value(const RunPoint& r, char axis) { return axis == 'c' ? r.c : axis == 'n' ? r.n : r.d; }

// The fit line of a kaplan fit over the runs' range and its interval band.
void add_law(std::vector<Series>& out, const FitResult& f, const std::string& colour,
             const std::string& label, const std::string& dash, bool& band_labelled) {
  Series line = series(label, colour, Series::Style::Line, dash);
  Series band = series("", colour, Series::Style::Band);
  const nlohmann::json& b = f.extra.value("band", nlohmann::json::object());
  if (!b.contains("x")) return;
  bool any_band = false;
  for (size_t i = 0; i < b["x"].size(); ++i) {
    const double x = b["x"][i], lo = number_from_json(b["lo"][i]), hi = number_from_json(b["hi"][i]);
    line.x.push_back(x);
    line.y.push_back(number_from_json(b["y"][i]));
    band.x.push_back(x);
    band.y.push_back(lo);
    band.y_hi.push_back(hi);
    any_band = any_band || std::isfinite(lo);
  }
  if (any_band) {
    if (!band_labelled) {
      Series key = series(fmt::format("{:.0f}% interval of each fit (band)", 100 * f.level),
                          "#777777", Series::Style::Band);
      out.push_back(std::move(key));
    }
    band_labelled = true;
    out.push_back(std::move(band));
  }
  out.push_back(std::move(line));
  // Derived losses beyond the runs (asked for with --budgets): hollow, dashed.
  Series ex = series("", colour, Series::Style::Open);
  for (const Estimate& e : f.derived)
    if (!e.extrapolation.empty() && e.name == "loss") ex.x.push_back(e.at), ex.y.push_back(e.value);
  if (!ex.x.empty()) {
    ex.label = "extrapolated (beyond the runs)";
    out.push_back(std::move(ex));
  }
}

const char* kTitles[] = {
    "Loss vs compute: final losses (dots), L(C) fits with their intervals (lines, bands)",
    "Loss vs model size: final losses, L(N) fits through the lowest loss per size",
    "Loss vs tokens: final losses, L(D) fits through the lowest loss per token count"};

}  // namespace

std::string loss_vs_axis_svg(const ReportInput& in, char axis) {
  std::vector<Series> out;
  bool band_labelled = false;
  // The law with E where the runs support one, else the pure power law.
  auto law_of = [&](const std::string& arch) {
    const FitResult* f = find_fit(in.suite, std::string("kaplan_") + axis, arch);
    return f ? f : find_fit(in.suite, std::string("kaplan_") + axis + "0", arch);
  };
  for (const std::string& arch : architectures(in.runs)) {
    const std::string col = arch_colour(arch);
    const std::vector<RunPoint> rs = of_arch(in.runs, arch);
    Series pts = series(fmt::format("{}: final loss ({} runs)", arch, rs.size()), col,
                        Series::Style::Markers);
    for (const RunPoint& r : rs) pts.x.push_back(axis_value(r, axis)), pts.y.push_back(r.loss);
    out.push_back(std::move(pts));
    if (const FitResult* f = law_of(arch))
      add_law(out, *f, col, fmt::format("{} fit {}", arch, f->formula.substr(f->formula.find('=') + 2)),
              "", band_labelled);
  }
  if (const FitResult* f = law_of(""))
    add_law(out, *f, "#000000", "pooled fit (all architectures)", "6,4", band_labelled);
  Chart chart{kTitles[axis == 'c' ? 0 : axis == 'n' ? 1 : 2],
              axis == 'c' ? compute_label(in.compute) : axis == 'n' ? n_label(in.n_axis)
                                                                    : "training tokens D",
              "validation loss (nats/token)"};
  return render_svg(chart, out);
}

std::string loss_vs_compute_svg(const ReportInput& in) { return loss_vs_axis_svg(in, 'c'); }

std::string isoflop_svg(const ReportInput& in) {
  std::vector<Series> out;
  bool minimum_labelled = false;
  for (const std::string& arch : architectures(in.runs)) {
    const std::vector<RunPoint> rs = of_arch(in.runs, arch);
    const std::string col = arch_colour(arch);
    const FitResult* fit = find_fit(in.suite, "chinchilla2", arch);
    for (const IsoFlopBudget& b : isoflop_budgets(rs)) {
      if (b.members.size() < 2) continue;
      Series pts = series(fmt::format("{} C={}", arch, format_flops(b.c)), col, Series::Style::Markers);
      double lo = INFINITY, hi = 0;
      for (size_t i : b.members) {
        pts.x.push_back(rs[i].n);
        pts.y.push_back(rs[i].loss);
        lo = std::min(lo, rs[i].n), hi = std::max(hi, rs[i].n);
      }
      out.push_back(std::move(pts));
      if (!fit) continue;
      for (const auto& j : fit->extra.value("budgets", nlohmann::json::array())) {
        if (!j.contains("parabola") || std::fabs(std::log(j["c"].get<double>() / b.c)) > 0.01) continue;
        Series par = series("", col, Series::Style::Line);
        const double q0 = j["parabola"][0], q1 = j["parabola"][1], q2 = j["parabola"][2];
        for (double n : log_grid(lo, hi, 40)) {
          par.x.push_back(n);
          par.y.push_back(q0 + q1 * std::log(n) + q2 * std::log(n) * std::log(n));
        }
        out.push_back(std::move(par));
        if (!j.value("used", false)) continue;
        Series m = series(minimum_labelled ? "" : "parabola minimum (N_opt)", col, Series::Style::Diamond);
        m.x.push_back(j["n_opt"].get<double>());
        m.y.push_back(j["loss_opt"].get<double>());
        minimum_labelled = true;
        out.push_back(std::move(m));
      }
    }
  }
  if (out.empty()) return "";
  Chart chart{"IsoFLOP profiles: final loss vs size at fixed compute (lines: parabolas; diamonds: "
              "their minima)",
              n_label(in.n_axis), "validation loss (nats/token)"};
  chart.log_y = false;
  return render_svg(chart, out);
}

std::string optimal_n_svg(const ReportInput& in) {
  std::vector<Series> out;
  double lo = INFINITY, hi = 0;
  for (const RunPoint& r : in.runs) lo = std::min(lo, r.c), hi = std::max(hi, r.c);
  for (const FitResult& f : in.suite.fits) {
    if (f.method != "chinchilla1" && f.method != "chinchilla2" && f.method != "chinchilla3") continue;
    const std::string who = f.arch.empty() ? "pooled" : f.arch;
    const std::string col = f.arch.empty() ? "#000000" : arch_colour(f.arch);
    const std::string dash = f.method == "chinchilla1" ? "8,4" : f.method == "chinchilla2" ? "2,3" : "";
    auto n_opt = [&](double c) {
      if (f.method != "chinchilla3") return f.param("k_n") * std::pow(c, f.param("a"));
      const double al = f.param("alpha"), be = f.param("beta");
      return std::pow(al * f.param("A") / (be * f.param("B")), 1 / (al + be)) * std::pow(c / 6, f.param("a"));
    };
    Series s = series(fmt::format("{} approach {}", who, f.method.back()), col, Series::Style::Line, dash);
    Series ex = series("", col, Series::Style::Faint, "3,3");
    for (double c : log_grid(lo, hi, 30)) s.x.push_back(c), s.y.push_back(n_opt(c));
    for (double c : log_grid(hi, 10 * hi, 10)) ex.x.push_back(c), ex.y.push_back(n_opt(c));
    out.push_back(std::move(s));
    out.push_back(std::move(ex));
  }
  if (out.empty()) return "";
  out.push_back(series("thin dotted: extrapolated beyond the runs", "#555555", Series::Style::Faint, "3,3"));
  Chart chart{"Compute-optimal model size N_opt(C)", compute_label(in.compute),
              "N_opt (" + n_label(in.n_axis) + ")"};
  return render_svg(chart, out);
}

std::string write_report(const std::string& dir, const ReportInput& in) {
  std::filesystem::create_directories(dir);
  const std::string svg = in.runs.empty() ? "" : loss_vs_compute_svg(in);
  const std::string html = report_html(in);
  const auto path = [&](const char* f) { return (std::filesystem::path(dir) / f).string(); };
  write_file_atomic(path("fits.json"), suite_json(in.suite).dump(2) + "\n");
  write_file_atomic(path("fits.csv"), fits_csv(in.suite.fits));
  write_file_atomic(path("runs.csv"), runs_csv(in.runs, in.n_axis));
  if (!svg.empty()) write_file_atomic(path("loss_vs_compute.svg"), svg);
  write_file_atomic(path("index.html"), html);
  return path("index.html");
}

}  // namespace scalelab::analysis
