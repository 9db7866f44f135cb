// Chinchilla approaches 1 and 2 (Hoffmann et al. 2022, sec. 3.1-3.2): the
// compute-optimal model size and token count as power laws of compute,
//   N_opt(C) = k_n C^a,  D_opt(C) = k_d C^b,
// each a least-squares line in log-log space through per-budget optima.
//
// Approach 1 (training-curve envelope): at each of `grid` log-spaced FLOP
// values, interpolate every run's loss curve (linear in log C) and take the
// run with the lowest loss; its N, and the tokens it had seen there, are the
// optimum at that C. Caveat (the paper's too): a run's intermediate points are
// not what a run stopped there would reach with its schedule compressed; WSD
// cooldown branches will give cleaner envelopes.
//
// Approach 2 (IsoFLOP profiles): runs whose compute agrees within `tolerance`
// form one budget; each budget with >= 3 distinct sizes gets a parabola of
// final loss in log N, whose vertex (it must lie inside the sampled sizes:
// an extrapolated minimum is not a measurement) is N_opt; D_opt is read off
// the budget's own log D vs log N line at N_opt.
#pragma once

#include <vector>

#include "analysis/data.h"
#include "analysis/result.h"

namespace scalelab::analysis {

struct AllocationLaw {
  double a = 0, k_n = 0;  // N_opt = k_n C^a
  double b = 0, k_d = 0;  // D_opt = k_d C^b
  double n_opt(double c) const;
  double d_opt(double c) const;
};

struct EnvelopePoint {
  double c = 0, n = 0, d = 0, loss = 0;
  std::string run_id;
};

struct Approach1Fit {
  AllocationLaw law;
  std::vector<EnvelopePoint> envelope;
  int distinct_sizes = 0;  // model sizes that win somewhere on the envelope
};

// Throws FitError when fewer than 3 sizes ever win (a line through the
// envelope of 2 sizes is a step, not a law) or no run has a curve.
Approach1Fit fit_chinchilla1(const std::vector<RunPoint>& runs, int grid = 200);

struct IsoFlopBudget {
  double c = 0;                  // geometric mean compute of the members
  std::vector<size_t> members;   // indices into the runs
  int distinct_sizes = 0;
  double q0 = kNaN, q1 = kNaN, q2 = kNaN;  // loss = q0 + q1 x + q2 x^2, x = ln N
  double n_opt = kNaN, d_opt = kNaN, loss_opt = kNaN;
  bool used = false;             // contributed a vertex to the law
  std::string note;              // why not, when not used
};

// Groups runs into budgets: sorted by C, a run joins the current budget while
// its C is within (1 + tolerance) of the budget's smallest C.
std::vector<IsoFlopBudget> isoflop_budgets(const std::vector<RunPoint>& runs,
                                           double tolerance = 0.1);

struct Approach2Fit {
  AllocationLaw law;
  std::vector<IsoFlopBudget> budgets;
};

// Throws FitError when fewer than 3 budgets have a usable vertex.
Approach2Fit fit_chinchilla2(const std::vector<RunPoint>& runs, double tolerance = 0.1);

}  // namespace scalelab::analysis
