#include "train/schedule.h"

#include <algorithm>
#include <cmath>

#include "models/spec/wsd.h"

namespace scalelab::train {

namespace {

// The share of (peak - floor) left at decay progress P in (0, 1].
double decay_factor(const std::string& shape, double p) {
  if (shape == "cosine") return 0.5 * (1.0 + std::cos(M_PI * p));
  if (shape == "1-sqrt") return 1.0 - std::sqrt(p);
  return 1.0 - p;
}

}  // namespace

double lr_at(const spec::RunSpec& s, int64_t step) {
  const int64_t total = std::max<int64_t>(1, s.steps());
  const int64_t warm = std::min(s.warmup_steps(), total);
  const double peak = s.lr, floor = s.min_lr_ratio * s.lr;
  if (step < warm) return peak * static_cast<double>(step + 1) / static_cast<double>(warm);
  if (s.schedule == "constant") return peak;
  if (s.schedule == "wsd") {
    const int64_t decay = spec::wsd_decay_steps(s), start = spec::wsd_decay_start(s);
    if (step < start) return peak;
    const double p = std::min(1.0, static_cast<double>(step - start + 1) / decay);
    return floor + (peak - floor) * decay_factor(s.decay_shape, p);
  }
  const int64_t span = std::max<int64_t>(1, total - warm);
  const double p = std::min(1.0, static_cast<double>(step - warm + 1) / span);
  return floor + 0.5 * (peak - floor) * (1.0 + std::cos(M_PI * p));
}

}  // namespace scalelab::train
