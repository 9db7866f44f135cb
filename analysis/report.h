// `scalelab report`: one self-contained index.html (inline SVG, no network)
// with loss vs compute, size and tokens per architecture and their fitted
// curves with interval bands, IsoFLOP profiles with their minima,
// compute-optimal sizes, per-architecture training curves and approach-3
// fits, the compute-multiplier table, every fit with its intervals (or why
// there are none) and extrapolations marked, and the run table; plus
// loss_vs_compute.svg, fits.json, fits.csv and runs.csv beside it. Each
// architecture has one colour in every chart (svg.h arch_colour).
#pragma once

#include <string>
#include <vector>

#include "analysis/data.h"
#include "analysis/fits.h"
#include "db/db.h"

namespace scalelab::analysis {

// A run with eval results (db evals table), for the recall charts.
struct EvalRun {
  std::string id, name, arch, task;  // task: lm | mqar
  double params = 0;
  double softmax_share = 0;  // softmax-attention layers / all layers (1: pure softmax)
  int64_t seq_len = 0;       // training length
};

struct ReportInput {
  std::vector<RunPoint> runs;  // done runs, with curves
  FitSuite suite;              // fits to show (stored ones, or fitted for the report)
  std::string source;          // database path, shown in the header
  Compute compute = Compute::Exact;
  NAxis n_axis = NAxis::NonEmbedding;
  std::string fits_origin;     // e.g. "stored by scalelab fit at ..."
  std::string warning;         // shown at the top when not empty (out-of-date fits)
  std::vector<std::string> stages;  // stage gate verdicts, one line each (db::Stage)
  std::vector<EvalRun> eval_runs;      // runs with evals (any task)
  std::vector<db::EvalRow> evals;      // their rows
};

// Final losses against C, N or D ('c', 'n', 'd') with each architecture's
// Kaplan fit and its interval band; L(C) also shows validation curves.
std::string loss_vs_axis_svg(const ReportInput& in, char axis);
std::string loss_vs_compute_svg(const ReportInput& in);
// "" when no architecture has a compute budget with >= 2 runs.
std::string isoflop_svg(const ReportInput& in);
// "" when no approach 1/2/3 fit is present.
std::string optimal_n_svg(const ReportInput& in);
// Per architecture (report_runs.cpp): every run's training and validation
// loss along its tokens, and the approach-3 law against the final losses
// ("" without a chinchilla3 fit).
std::string run_curves_svg(const ReportInput& in, const std::string& arch);
std::string approach3_svg(const ReportInput& in, const std::string& arch);
// The evals section (report_evals.cpp): recall vs the share of softmax
// layers and vs size (MQAR accuracy, S-NIAH recall within the training
// length), an S-NIAH heat map (depth x context) per run, loss by position.
// "" without evals.
std::string recall_vs_ratio_svg(const ReportInput& in);
std::string recall_vs_size_svg(const ReportInput& in);
std::string niah_heatmap_svg(const ReportInput& in, const EvalRun& run);
std::string position_loss_svg(const ReportInput& in);
std::string evals_html(const ReportInput& in);
std::string report_html(const ReportInput& in);

// Creates DIR if needed and writes the five files (each through a temporary
// file and a rename). Returns the path of index.html.
std::string write_report(const std::string& dir, const ReportInput& in);

}  // namespace scalelab::analysis
