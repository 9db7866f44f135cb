#include "train/schedule.h"

#include <algorithm>
#include <cmath>

namespace scalelab::train {

double lr_at(const spec::RunSpec& s, int64_t step) {
  const int64_t total = std::max<int64_t>(1, s.steps());
  const int64_t warm = std::min(s.warmup_steps(), total);
  const double peak = s.lr, floor = s.min_lr_ratio * s.lr;
  if (step < warm) return peak * static_cast<double>(step + 1) / static_cast<double>(warm);
  if (s.schedule == "constant") return peak;
  if (s.schedule == "wsd") {
    const int64_t decay = std::max<int64_t>(1, std::llround(s.decay_fraction * total));
    const int64_t start = total - decay;
    if (step < start) return peak;
    const double p = std::min(1.0, static_cast<double>(step - start + 1) / decay);
    return peak + (floor - peak) * p;
  }
  const int64_t span = std::max<int64_t>(1, total - warm);
  const double p = std::min(1.0, static_cast<double>(step - warm + 1) / span);
  return floor + 0.5 * (peak - floor) * (1.0 + std::cos(M_PI * p));
}

}  // namespace scalelab::train
