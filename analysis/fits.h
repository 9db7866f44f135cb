// Every fit of issue 6 over a set of finished runs, with bootstrap intervals:
//   kaplan_c / kaplan_c0   L(C) = E + A C^-alpha  /  A C^-alpha (lowest loss per budget)
//   kaplan_n / kaplan_n0   L(N), the lowest final loss of each model size
//   kaplan_d / kaplan_d0   L(D), the lowest final loss of each token count
//   chinchilla1            training-curve envelope -> N_opt, D_opt ~ C^a, C^b
//   chinchilla2            IsoFLOP parabolas -> N_opt, D_opt ~ C^a, C^b
//   chinchilla3            L(N, D) = E + A/N^alpha + B/D^beta (Huber, L-BFGS-B, grid)
//   compare                per architecture vs the baseline (softmax), from kaplan_c:
//                          loss at each budget and the compute multiplier
//                          m(C) = C_base(L_arch(C)) / C: the baseline needs m times
//                          the compute to match the architecture (m > 1: it is better).
// Fits are per architecture; architectures are pooled only when asked
// (FitOptions::pool). A method that the data cannot support (too few sizes,
// budgets or runs, or no residual degrees of freedom) is skipped with a note
// saying why, never forced. Every derived quantity outside the runs' range is
// flagged (Estimate::extrapolation); intervals: analysis/bootstrap.h.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/data.h"
#include "analysis/result.h"

namespace scalelab::analysis {

struct FitOptions {
  // Any of: kaplan, chinchilla1, chinchilla2, chinchilla3 (compare comes with kaplan).
  std::vector<std::string> methods = {"kaplan", "chinchilla1", "chinchilla2", "chinchilla3"};
  int bootstrap = 200;  // replicates; 0 for point estimates only
  uint64_t seed = 0;
  double level = 0.95;
  int threads = 0;                // 0: hardware concurrency
  std::vector<double> budgets;    // FLOPs for derived quantities; empty: default_budgets()
  std::string baseline = "softmax";
  bool pool = false;              // also fit L(C) over all architectures pooled (arch "")
  Compute compute = Compute::Exact;       // recorded in every result
  NAxis n_axis = NAxis::NonEmbedding;     // recorded in every result
  double isoflop_tolerance = 0.1;
  Eigen::MatrixXd chinchilla3_starts;     // empty: the 4,500-start grid
};

struct FitSuite {
  std::vector<FitResult> fits;
  std::vector<std::string> notes;  // skipped methods and why
};

// Throws DataError for input no fit can use: no runs, one run, all runs at
// the same compute, or a non-finite / non-positive value (see validate()).
void check_fit_input(const std::vector<RunPoint>& runs);

FitSuite run_fits(const std::vector<RunPoint>& runs, const FitOptions& opt);

// Smallest, middle (geometric) and largest compute of the runs, rounded to 2
// significant digits inwards: derived quantities by default stay inside the
// data (extrapolations only when asked for with explicit budgets, and flagged).
std::vector<double> default_budgets(const std::vector<RunPoint>& runs);

// The single fits run_fits() is made of; each throws FitError when the runs
// cannot support it. ARCH only labels the result.
FitResult fit_kaplan(const std::vector<RunPoint>& runs, char axis /* 'c', 'n', 'd' */,
                     bool with_e, const std::string& arch, const FitOptions& opt);
FitResult fit_approach1(const std::vector<RunPoint>& runs, const std::string& arch,
                        const FitOptions& opt);
FitResult fit_approach2(const std::vector<RunPoint>& runs, const std::string& arch,
                        const FitOptions& opt);
FitResult fit_approach3(const std::vector<RunPoint>& runs, const std::string& arch,
                        const FitOptions& opt);
FitResult fit_compare(const std::vector<RunPoint>& arch_runs,
                      const std::vector<RunPoint>& baseline_runs, const std::string& arch,
                      const FitOptions& opt);

}  // namespace scalelab::analysis
