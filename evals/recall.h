// Exact-match recall counts, shared by the retrieval evals.
#pragma once

#include <cstdint>

namespace scalelab::evals {

// Exact-match recall: correct answers out of total.
struct RecallCount {
  int64_t correct = 0, total = 0;
  double accuracy() const { return total > 0 ? static_cast<double>(correct) / total : 0.0; }
  RecallCount& operator+=(const RecallCount& o) {
    correct += o.correct;
    total += o.total;
    return *this;
  }
};

}  // namespace scalelab::evals
