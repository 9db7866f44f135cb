// Small self-contained SVG charts (no scripts, no fonts or styles fetched):
// log or linear axes with ticks at 1-2-5 steps, markers, lines and interval
// bands, and a legend sized to its labels (never clipped: the chart grows).
#pragma once

#include <string>
#include <vector>

namespace scalelab::analysis {

struct Series {
  enum class Style {
    Markers,  // filled circles
    Open,     // hollow circles (extrapolated values)
    Diamond,  // filled diamonds (minima)
    Line,     // a line of width 2
    Faint,    // a thin line (training curves)
    Band,     // a translucent area between y (lower edge) and y_hi (upper edge)
  };
  std::string label;  // "" keeps it out of the legend
  std::string color;  // CSS colour
  std::vector<double> x, y;
  Style style = Style::Markers;
  std::string dash;  // SVG stroke-dasharray, e.g. "6,4"; "" for a solid line
  std::vector<double> y_hi;  // Band only
  bool dots = false;         // Line / Faint: also a small dot at each point
};

struct Chart {
  std::string title, x_label, y_label;
  bool log_x = true, log_y = true;
  int width = 900, height = 480;  // the plot area grows the chart for a long legend
};

// Non-finite points (and non-positive ones on a log axis) are skipped.
// Throws std::invalid_argument when no series has a drawable point.
std::string render_svg(const Chart& chart, const std::vector<Series>& series);

// Tick values for an axis over [lo, hi] (data units): decades on log axes
// spanning several, else 1, 2, 5 x 10^k mantissas, else evenly spaced values
// whose step is 1, 2 or 5 x 10^k.
std::vector<double> axis_ticks(double lo, double hi, bool log);

// A colour per index, distinguishable and printable.
std::string palette(size_t i);
// The colour of an architecture: a function of its name only, so it is the
// same in every chart of every report (softmax blue, lightning red, hgrn2
// green, mamba2 purple, gdn brown, swa pink; hybrids and others by hash).
std::string arch_colour(const std::string& arch);

// &, <, >, " escaped for XML text and attributes.
std::string xml_escape(const std::string& s);

}  // namespace scalelab::analysis
