// Synthetic sweeps drawn from known scaling laws, for the analysis tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/chinchilla3.h"
#include "analysis/data.h"

namespace scalelab::db { class Database; }

namespace scalelab::analysis::testing {

struct SweepSpec {
  std::string arch = "softmax";
  Chinchilla3Params law{1.69, 406.4, 410.7, 0.34, 0.28};
  std::vector<double> sizes;         // N
  std::vector<double> tokens_per_n;  // D = ratio * N, one run per (size, ratio)
  double noise = 0.0;                // sd of multiplicative log-normal noise on losses
  int curve_points = 0;              // logged points per run (0: none)
  uint64_t seed = 1;
};

// Runs with C = 6 N D, final loss and (optionally) a training curve whose
// points follow the same law at the tokens seen so far.
std::vector<RunPoint> make_sweep(const SweepSpec& s);

// Log-spaced values from lo to hi.
std::vector<double> logspace(double lo, double hi, int n);

// Inserts the runs as done runs with their curves (val_loss) into DB.
void insert_sweep(db::Database& db, const std::vector<RunPoint>& runs);

}  // namespace scalelab::analysis::testing

namespace scalelab::analysis::testing {

// A WSD sweep as the trainer leaves it in DB: per size a done parent (spec
// with `branches`, a stable-phase curve) and one done branch per ratio of
// s.tokens_per_n (spec with branch_of / branch_step, its cooldown curve);
// each branch's final loss follows s.law, with noise shared by a parent's
// branches (sd s.noise) and their own (sd s.noise / 4). Returns the branches
// as load_runs() should read them (parent set, curves not filled in).
std::vector<RunPoint> insert_wsd_sweep(db::Database& db, const SweepSpec& s);

}  // namespace scalelab::analysis::testing
