// Held-out loss by token position: does the model use its context? The loss
// of token t (predicting it from tokens 1..t-1) is averaged over held-out
// windows in buckets of doubling width, (2^(k-1), 2^k], up to seq_len; a
// falling curve means later tokens profit from the longer context.
#pragma once

#include <cstdint>
#include <vector>

namespace scalelab::evals {

struct PositionBucket {
  int64_t first = 1, last = 1;  // 1-based positions, inclusive
  double loss = 0;              // mean over rows and positions
  int64_t tokens = 0;
};

// SUMS[t]: the summed loss of position t + 1 over ROWS windows.
std::vector<PositionBucket> position_buckets(const std::vector<double>& sums, int64_t rows);

}  // namespace scalelab::evals
