// `scalelab report`: one self-contained index.html (inline SVG, no network)
// with loss vs compute per architecture and its fitted curves, IsoFLOP
// profiles, compute-optimal sizes, the compute-multiplier table, every fit
// with its intervals and the run table; plus loss_vs_compute.svg, fits.json,
// fits.csv and runs.csv beside it.
#pragma once

#include <string>
#include <vector>

#include "analysis/data.h"
#include "analysis/fits.h"

namespace scalelab::analysis {

struct ReportInput {
  std::vector<RunPoint> runs;  // done runs, with curves
  FitSuite suite;              // fits to show (stored ones, or fitted for the report)
  std::string source;          // database path, shown in the header
  Compute compute = Compute::Exact;
  NAxis n_axis = NAxis::NonEmbedding;
  std::string fits_origin;     // e.g. "stored by scalelab fit at ..."
};

std::string loss_vs_compute_svg(const ReportInput& in);
// "" when no architecture has a compute budget with >= 2 runs.
std::string isoflop_svg(const ReportInput& in);
// "" when no approach 1/2/3 fit is present.
std::string optimal_n_svg(const ReportInput& in);
std::string report_html(const ReportInput& in);

// Creates DIR if needed and writes the five files (each through a temporary
// file and a rename). Returns the path of index.html.
std::string write_report(const std::string& dir, const ReportInput& in);

}  // namespace scalelab::analysis
