// The charts of the report (report.cpp: across architectures; report_runs.cpp:
// per architecture), and the helpers they share. Internal to analysis/.
#pragma once

#include <string>
#include <vector>

#include "analysis/report.h"
#include "analysis/svg.h"

namespace scalelab::analysis::charts {

Series series(std::string label, std::string colour, Series::Style style, std::string dash = "");
const FitResult* find_fit(const FitSuite& s, const std::string& method, const std::string& arch);
std::vector<double> log_grid(double lo, double hi, int n);
std::string n_label(NAxis n);
// "N 33k", "D 1.6M": a size or token count for a legend.
std::string short_count(double v);

}  // namespace scalelab::analysis::charts
