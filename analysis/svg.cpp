#include "analysis/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace scalelab::analysis {

std::string palette(size_t i) {
  static const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                  "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  return colours[i % 10];
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

struct Axis {
  bool log = true;
  double lo = 0, hi = 1;  // in transformed units (log10 when log)
  double px0 = 0, px1 = 1;
  double t(double v) const { return log ? std::log10(v) : v; }
  double pos(double v) const { return px0 + (t(v) - lo) / (hi - lo) * (px1 - px0); }
  bool ok(double v) const { return std::isfinite(v) && (!log || v > 0); }
};

std::string tick_label(double v) {
  const double a = std::fabs(v);
  if (a != 0 && (a >= 1e5 || a < 1e-3)) {
    const int e = static_cast<int>(std::floor(std::log10(a) + 1e-9));
    const double m = v / std::pow(10.0, e);
    return std::fabs(m - 1) < 1e-9 ? fmt::format("1e{}", e) : fmt::format("{:.2g}e{}", m, e);
  }
  return fmt::format("{:.3g}", v);
}

// Ticks inside [lo, hi] (transformed units): decades when the axis spans
// several, 1-2-5 or 1..9 mantissas when fewer, evenly spaced values otherwise.
std::vector<double> ticks(const Axis& ax) {
  std::vector<double> out;
  const double a = ax.log ? std::pow(10.0, ax.lo) : ax.lo;
  const double b = ax.log ? std::pow(10.0, ax.hi) : ax.hi;
  if (ax.log) {
    const int k0 = static_cast<int>(std::floor(ax.lo)), k1 = static_cast<int>(std::ceil(ax.hi));
    const double span = ax.hi - ax.lo;
    const int step = span > 12 ? 3 : span > 6 ? 2 : 1;
    std::vector<double> mant = span >= 2.5 ? std::vector<double>{1}
                               : span >= 1 ? std::vector<double>{1, 2, 5}
                                           : std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9};
    for (int k = k0; k <= k1; ++k)
      for (double m : mant)
        if ((mant.size() > 1 || (k - k0) % step == 0)) {
          const double v = m * std::pow(10.0, k);
          if (v >= a * (1 - 1e-9) && v <= b * (1 + 1e-9)) out.push_back(v);
        }
    if (out.size() >= 3) return out;
    out.clear();
  }
  const double raw = (b - a) / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double nice = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  for (double v = std::ceil(a / nice) * nice; v <= b * (1 + 1e-12); v += nice)
    out.push_back(std::fabs(v) < nice * 1e-9 ? 0.0 : v);
  return out;
}

void set_range(Axis& ax, double lo, double hi) {
  lo = ax.t(lo);
  hi = ax.t(hi);
  if (hi - lo < 1e-9) {
    const double pad = ax.log ? 0.1 : std::max(std::fabs(lo) * 0.1, 1e-3);
    lo -= pad;
    hi += pad;
  }
  const double pad = (hi - lo) * 0.04;
  ax.lo = lo - pad;
  ax.hi = hi + pad;
}

}  // namespace

std::string render_svg(const Chart& chart, const std::vector<Series>& series) {
  Axis x{chart.log_x}, y{chart.log_y};
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (x.ok(s.x[i]) && y.ok(s.y[i])) {
        xmin = std::min(xmin, s.x[i]), xmax = std::max(xmax, s.x[i]);
        ymin = std::min(ymin, s.y[i]), ymax = std::max(ymax, s.y[i]);
      }
  if (!(xmin <= xmax)) throw std::invalid_argument("chart '" + chart.title + "' has no points");
  size_t legend_rows = 0;
  for (const Series& s : series) legend_rows += !s.label.empty();
  const int left = 78, top = 34, bottom = 56, legend_w = legend_rows ? 300 : 10;
  const int W = chart.width, H = chart.height;
  x.px0 = left, x.px1 = W - legend_w;
  y.px0 = H - bottom, y.px1 = top;
  set_range(x, xmin, xmax);
  set_range(y, ymin, ymax);
  std::string o = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{0}\" height=\"{1}\" "
      "fill=\"white\"/>\n<text x=\"{2}\" y=\"20\" font-size=\"15\" font-weight=\"bold\">{3}</text>\n",
      W, H, left, xml_escape(chart.title));
  o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n",
                   x.px0, y.px1, x.px1 - x.px0, y.px0 - y.px1);
  for (double v : ticks(x)) {
    const double p = x.pos(v);
    o += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#ddd\"/>"
                     "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                     p, y.px1, y.px0, y.px0 + 16, tick_label(v));
  }
  for (double v : ticks(y)) {
    const double p = y.pos(v);
    o += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/>"
                     "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
                     x.px0, x.px1, p, x.px0 - 6, p + 4, tick_label(v));
  }
  o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}{}</text>\n",
                   (x.px0 + x.px1) / 2, H - 14, xml_escape(chart.x_label), chart.log_x ? " (log scale)" : "");
  o += fmt::format("<text transform=\"translate(18,{:.1f}) rotate(-90)\" text-anchor=\"middle\">{}{}</text>\n",
                   (y.px0 + y.px1) / 2, xml_escape(chart.y_label), chart.log_y ? " (log scale)" : "");
  int row = 0;
  for (const Series& s : series) {
    std::string pts;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (x.ok(s.x[i]) && y.ok(s.y[i])) {
        if (s.style == Series::Style::Markers)
          o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\" stroke=\"black\" "
                           "stroke-width=\"0.5\"/>\n", x.pos(s.x[i]), y.pos(s.y[i]), s.color);
        else
          pts += fmt::format("{:.1f},{:.1f} ", x.pos(s.x[i]), y.pos(s.y[i]));
      }
    if (!pts.empty())
      o += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{}{}/>\n",
                       pts, s.color, s.style == Series::Style::Faint ? 1 : 2,
                       s.style == Series::Style::Faint ? " stroke-opacity=\"0.35\"" : "",
                       s.dash.empty() ? std::string() : " stroke-dasharray=\"" + s.dash + "\"");
    if (s.label.empty()) continue;
    const double lx = x.px1 + 12, ly = top + 10 + 18 * row++;
    if (s.style == Series::Style::Markers)
      o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\"/>", lx + 10, ly, s.color);
    else
      o += fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
                       "stroke-width=\"2\"{}/>", lx, lx + 20, ly, ly, s.color,
                       s.dash.empty() ? std::string() : " stroke-dasharray=\"" + s.dash + "\"");
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", lx + 26, ly + 4,
                     xml_escape(s.label.size() > 42 ? s.label.substr(0, 41) + "~" : s.label));
  }
  return o + "</svg>\n";
}

}  // namespace scalelab::analysis
