#include "evals/position_loss.h"

#include <algorithm>

namespace scalelab::evals {

std::vector<PositionBucket> position_buckets(const std::vector<double>& sums, int64_t rows) {
  std::vector<PositionBucket> out;
  const int64_t t = static_cast<int64_t>(sums.size());
  for (int64_t first = 1, last = 1; first <= t; first = last + 1, last = std::min(t, 2 * last)) {
    PositionBucket b{first, last, 0, (last - first + 1) * rows};
    for (int64_t p = first; p <= last; ++p) b.loss += sums[static_cast<size_t>(p - 1)];
    b.loss /= static_cast<double>(std::max<int64_t>(1, b.tokens));
    out.push_back(b);
    if (last == t) break;
  }
  return out;
}

}  // namespace scalelab::evals
