#include "analysis/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace scalelab::analysis {

std::string palette(size_t i) {
  static const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                  "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  return colours[i % 10];
}

std::string arch_colour(const std::string& arch) {
  static const std::pair<const char*, const char*> fixed[] = {
      {"softmax", "#1f77b4"}, {"lightning", "#d62728"}, {"hgrn2", "#2ca02c"},
      {"mamba2", "#9467bd"},  {"gdn", "#8c564b"},       {"swa", "#e377c2"}};
  for (const auto& [name, colour] : fixed)
    if (arch == name) return colour;
  static const char* rest[] = {"#ff7f0e", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939",
                               "#8c6d31", "#843c39"};
  uint64_t h = 1469598103934665603ull;  // FNV-1a of the name
  for (unsigned char c : arch) h = (h ^ c) * 1099511628211ull;
  return rest[h % 8];
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
  double value(double tv) const { return log ? std::pow(10.0, tv) : tv; }
};

// 0.5, 2, 250, 4e4, 1.2e5: plain up to 4 digits, else mantissa e exponent.
std::string tick_label(double v) {
  const double a = std::fabs(v);
  if (a != 0 && (a >= 1e4 || a < 1e-3)) {
    const int e = static_cast<int>(std::floor(std::log10(a) + 1e-9));
    const double m = v / std::pow(10.0, e);
    return std::fabs(m - 1) < 1e-9 ? fmt::format("1e{}", e) : fmt::format("{:.2g}e{}", m, e);
  }
  return fmt::format("{:.4g}", v);
}

// Evenly spaced ticks in [a, b] with a 1, 2 or 5 x 10^k step, 4 to 10 of them.
std::vector<double> linear_ticks(double a, double b) {
  std::vector<double> out;
  if (!(b > a)) return {a};
  const double raw = (b - a) / 6;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  const double step = (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
  for (double k = std::ceil(a / step - 1e-9); k * step <= b * (1 + 1e-12) + 1e-300; k += 1) {
    const double v = k * step;
    out.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  }
  return out;
}

}  // namespace

std::vector<double> axis_ticks(double a, double b, bool log) {
  if (log) {
    const double lo = std::log10(a), hi = std::log10(b), span = hi - lo;
    std::vector<double> out;
    const int k0 = static_cast<int>(std::floor(lo)), k1 = static_cast<int>(std::ceil(hi));
    const int step = span > 12 ? 3 : span > 6 ? 2 : 1;
    const std::vector<double> mant = span >= 2.5 ? std::vector<double>{1} : std::vector<double>{1, 2, 5};
    if (span >= 1)
      for (int k = k0; k <= k1; ++k)
        for (double m : mant)
          if (mant.size() > 1 || (k - k0) % step == 0) {
            const double v = m * std::pow(10.0, k);
            if (v >= a * (1 - 1e-9) && v <= b * (1 + 1e-9)) out.push_back(v);
          }
    if (out.size() >= 3) return out;
  }
  return linear_ticks(a, b);
}

namespace {

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

std::string marker(Series::Style st, double cx, double cy, const std::string& colour, double r) {
  if (st == Series::Style::Diamond)
    return fmt::format("<path d=\"M{0:.1f},{1:.1f} l{2:.1f},{2:.1f} l-{2:.1f},{2:.1f} l-{2:.1f},-{2:.1f} z\" "
                       "fill=\"{3}\" stroke=\"black\" stroke-width=\"0.8\"/>",
                       cx, cy - r * 1.5, r * 1.5, colour);
  if (st == Series::Style::Open)
    return fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"white\" stroke=\"{}\" "
                       "stroke-width=\"1.5\"/>", cx, cy, r, colour);
  return fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\" stroke=\"black\" "
                     "stroke-width=\"0.5\"/>", cx, cy, r, colour);
}

bool is_marker(Series::Style s) {
  return s == Series::Style::Markers || s == Series::Style::Open || s == Series::Style::Diamond;
}

std::string dash_attr(const std::string& dash) {
  return dash.empty() ? std::string() : " stroke-dasharray=\"" + dash + "\"";
}

// One series' marks (markers, a line or a band) in plot coordinates.
std::string draw_series(const Series& s, const Axis& x, const Axis& y) {
  std::string o, pts, upper;
  for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
    if (!x.ok(s.x[i]) || !y.ok(s.y[i])) continue;
    const double px = x.pos(s.x[i]), py = y.pos(s.y[i]);
    if (s.style == Series::Style::Band) {
      if (i >= s.y_hi.size() || !y.ok(s.y_hi[i])) continue;
      pts += fmt::format("{:.1f},{:.1f} ", px, py);
      upper = fmt::format("{:.1f},{:.1f} ", px, y.pos(s.y_hi[i])) + upper;
    } else if (is_marker(s.style)) {
      o += marker(s.style, px, py, s.color, 4) + "\n";
    } else {
      pts += fmt::format("{:.1f},{:.1f} ", px, py);
      if (s.dots) o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"1.8\" fill=\"{}\"/>", px, py, s.color);
    }
  }
  if (s.style == Series::Style::Band && !pts.empty())
    return o + fmt::format("<polygon points=\"{}{}\" fill=\"{}\" fill-opacity=\"0.18\" stroke=\"none\"/>\n",
                           pts, upper, s.color);
  if (!pts.empty() && !is_marker(s.style))
    o += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{}{}/>\n",
                     pts, s.color, s.style == Series::Style::Faint ? 1 : 2,
                     s.style == Series::Style::Faint ? " stroke-opacity=\"0.55\"" : "", dash_attr(s.dash));
  return o;
}

std::string legend_key(const Series& s, double lx, double ly) {
  if (is_marker(s.style)) return marker(s.style, lx + 10, ly, s.color, 4);
  if (s.style == Series::Style::Band)
    return fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"20\" height=\"10\" fill=\"{}\" "
                       "fill-opacity=\"0.25\"/>", lx, ly - 5, s.color);
  return fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
                     "stroke-width=\"{}\"{}/>", lx, lx + 20, ly, ly, s.color,
                     s.style == Series::Style::Faint ? 1 : 2, dash_attr(s.dash));
}

// Conservative width of 12px sans-serif text: wide enough that a legend
// label never runs past the chart's edge.
double text_width(const std::string& s) { return 7.2 * static_cast<double>(s.size()); }

}  // namespace

std::string render_svg(const Chart& chart, const std::vector<Series>& series) {
  Axis x{chart.log_x}, y{chart.log_y};
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  auto take = [&](double xv, double yv) {
    if (!x.ok(xv) || !y.ok(yv)) return;
    xmin = std::min(xmin, xv), xmax = std::max(xmax, xv);
    ymin = std::min(ymin, yv), ymax = std::max(ymax, yv);
  };
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      take(s.x[i], s.y[i]);
      if (i < s.y_hi.size()) take(s.x[i], s.y_hi[i]);
    }
  if (!(xmin <= xmax)) throw std::invalid_argument("chart '" + chart.title + "' has no points");
  size_t rows = 0;
  double widest = 0;
  for (const Series& s : series)
    if (!s.label.empty()) ++rows, widest = std::max(widest, text_width(s.label));
  const int left = 78, top = 34, bottom = 56;
  const int legend_w = rows ? static_cast<int>(std::ceil(widest)) + 50 : 10;
  const int plot_w = chart.width - (rows ? 300 : 10);
  const int W = left + std::max(plot_w - left, 200) + legend_w;
  const int H = std::max(chart.height, top + 10 + 18 * static_cast<int>(rows) + 10);
  x.px0 = left, x.px1 = W - legend_w;
  y.px0 = chart.height - bottom, y.px1 = top;
  set_range(x, xmin, xmax);
  set_range(y, ymin, ymax);
  std::string o = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{0}\" height=\"{1}\" "
      "fill=\"white\"/>\n<text x=\"{2}\" y=\"20\" font-size=\"15\" font-weight=\"bold\">{3}</text>\n",
      W, H, left, xml_escape(chart.title));
  o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n",
                   x.px0, y.px1, x.px1 - x.px0, y.px0 - y.px1);
  // A label too close to the one before it is left out (its grid line stays):
  // 1-2-5 steps on a short log axis bunch up at its high end.
  double last_label = -1e9;
  for (double v : axis_ticks(x.value(x.lo), x.value(x.hi), x.log)) {
    const double p = x.pos(v);
    const std::string label = tick_label(v);
    if (p - last_label < 7.2 * static_cast<double>(label.size()) + 6) {
      o += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#ddd\"/>\n",
                       p, y.px1, y.px0);
      continue;
    }
    last_label = p;
    o += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#ddd\"/>"
                     "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                     p, y.px1, y.px0, y.px0 + 16, label);
  }
  last_label = 1e9;
  for (double v : axis_ticks(y.value(y.lo), y.value(y.hi), y.log)) {
    const double p = y.pos(v);
    if (last_label - p < 14) continue;
    last_label = p;
    o += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/>"
                     "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
                     x.px0, x.px1, p, x.px0 - 6, p + 4, tick_label(v));
  }
  o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}{}</text>\n",
                   (x.px0 + x.px1) / 2, chart.height - 14, xml_escape(chart.x_label),
                   chart.log_x ? " (log scale)" : "");
  o += fmt::format("<text transform=\"translate(18,{:.1f}) rotate(-90)\" text-anchor=\"middle\">{}{}</text>\n",
                   (y.px0 + y.px1) / 2, xml_escape(chart.y_label), chart.log_y ? " (log scale)" : "");
  // Bands first, so lines and markers stay on top of them.
  for (int pass = 0; pass < 2; ++pass)
    for (const Series& s : series)
      if ((s.style == Series::Style::Band) == (pass == 0)) o += draw_series(s, x, y);
  int row = 0;
  for (const Series& s : series) {
    if (s.label.empty()) continue;
    const double lx = x.px1 + 12, ly = top + 10 + 18 * row++;
    o += legend_key(s, lx, ly);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", lx + 26, ly + 4, xml_escape(s.label));
  }
  return o + "</svg>\n";
}

}  // namespace scalelab::analysis
