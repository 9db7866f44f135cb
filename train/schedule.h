// Learning-rate schedules, all with linear warmup from 0 to the peak lr over
// warmup_steps() (RunSpec::warmup: below 1 a fraction of the run's steps, from
// 1 a number of optimiser steps):
//   cosine    peak -> min_lr_ratio * peak along a half cosine to the last step
//   wsd       warmup-stable-decay: flat at the peak, then a decay to the
//             minimum over the final decay_fraction of the steps (Hägele et al.
//             2024, "Scaling Laws and Compute-Optimal Training Beyond Fixed
//             Training Durations", arXiv:2405.18392), shaped by decay_shape:
//               linear   1 - p
//               cosine   (1 + cos(pi p)) / 2
//               1-sqrt   1 - sqrt(p)   (their best cooldown)
//             for p the fraction of the decay done (1 at the last step). One
//             long run branches cooldowns at several token budgets
//             (models/spec/wsd.h): before its decay starts, a WSD run's lr does
//             not depend on its length.
//   constant  peak after warmup.
#pragma once

#include <cstdint>

#include "models/spec/run_spec.h"

namespace scalelab::train {

// lr to use at STEP (0-based) of a run of spec.steps() steps.
double lr_at(const spec::RunSpec& spec, int64_t step);

}  // namespace scalelab::train
