// How long the runs `scalelab run` is about to train would take here, from a
// FLOP rate measured on this machine and stored in the database (the finished
// runs' own rates, or a short calibration by `scalelab calibrate` when none is
// stored). On a CPU, a sweep estimated above a threshold needs --yes.
#pragma once

#include <string>

#include "cli/command.h"

namespace scalelab::cli {

struct Estimate {
  int64_t runs = 0;
  double flops = 0;        // left to train
  double flops_per_s = 0;  // per slot; 0: unknown
  std::string source;      // where the rate comes from
  double hours = 0;        // wall-clock, over SLOTS slots
};

// Prints the estimate for the runs of F over SLOTS slots (unless -q), when a
// rate is known. On a CPU (CPU true) without YES, an estimate of CONFIRM_HOURS
// or more throws InputError (exit 2) instead.
void confirm_time(const Context& ctx, db::Database& db, const db::RunFilter& f, int slots,
                  bool cpu, double confirm_hours, bool yes);

}  // namespace scalelab::cli
