// Small self-contained SVG charts (no scripts, no fonts or styles fetched):
// log or linear axes with ticks and labels, markers and lines, a legend.
#pragma once

#include <string>
#include <vector>

namespace scalelab::analysis {

struct Series {
  enum class Style { Markers, Line, Faint };  // Faint: thin translucent line (training curves)
  std::string label;  // "" keeps it out of the legend
  std::string color;  // CSS colour
  std::vector<double> x, y;
  Style style = Style::Markers;
  std::string dash;  // SVG stroke-dasharray, e.g. "6,4"; "" for a solid line
};

struct Chart {
  std::string title, x_label, y_label;
  bool log_x = true, log_y = true;
  int width = 900, height = 480;
};

// Non-finite points (and non-positive ones on a log axis) are skipped.
// Throws std::invalid_argument when no series has a drawable point.
std::string render_svg(const Chart& chart, const std::vector<Series>& series);

// A colour per index, distinguishable and printable.
std::string palette(size_t i);

// &, <, >, " escaped for XML text and attributes.
std::string xml_escape(const std::string& s);

}  // namespace scalelab::analysis
