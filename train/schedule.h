// Learning-rate schedules, all with linear warmup from 0 to the peak lr:
//   cosine    peak -> min_lr_ratio * peak along a half cosine to the last step
//   wsd       warmup-stable-decay: flat at peak, then linear decay to the
//             minimum over the final decay_fraction of the steps (Hägele et al.
//             2024, "Scaling Laws and Compute-Optimal Training Beyond Fixed
//             Training Durations"): one long run can branch cooldowns at several
//             token budgets.
//   constant  peak after warmup.
#pragma once

#include <cstdint>

#include "models/spec/run_spec.h"

namespace scalelab::train {

// lr to use at STEP (0-based) of a run of spec.steps() steps.
double lr_at(const spec::RunSpec& spec, int64_t step);

}  // namespace scalelab::train
