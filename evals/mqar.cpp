#include "evals/mqar.h"

#include <fmt/format.h>

#include <numeric>
#include <stdexcept>

#include "evals/rng.h"

namespace scalelab::evals {

namespace {
// Held-out sequences come from this stream whatever the run's seed.
constexpr uint64_t kValidationStream = 0x6d71'6172'7661'6cULL;  // "mqarval"
}  // namespace

void MqarShape::check() const {
  if (pairs < 1) throw std::invalid_argument(fmt::format("mqar: pairs must be >= 1, got {}", pairs));
  if (4 * pairs > seq_len)
    throw std::invalid_argument(
        fmt::format("mqar: {} pairs need seq_len >= {}, got {}", pairs, 4 * pairs, seq_len));
  if (keys() < pairs)
    throw std::invalid_argument(fmt::format("mqar: {} pairs need vocab >= {}, got {}", pairs,
                                            2 * pairs + 1, vocab));
}

std::string MqarShape::label() const {
  return fmt::format("pairs={} seq_len={} vocab={}", pairs, seq_len, vocab);
}

std::vector<int64_t> mqar_query_positions(const MqarShape& s) {
  const int64_t slots = (s.seq_len + 1 - 2 * s.pairs) / 2;
  std::vector<int64_t> pos(static_cast<size_t>(s.pairs));
  for (int64_t j = 0; j < s.pairs; ++j) pos[static_cast<size_t>(j)] = 2 * s.pairs + 2 * (j * slots / s.pairs);
  return pos;
}

void mqar_sequence(const MqarShape& s, uint64_t stream, uint64_t index, int64_t* out) {
  Rng rng(stream, index);
  const int64_t n = s.seq_len + 1, p = s.pairs, k = s.keys();
  std::fill(out, out + n, 0);
  // P distinct keys: a partial Fisher-Yates over [0, K).
  std::vector<int64_t> keys(static_cast<size_t>(k));
  std::iota(keys.begin(), keys.end(), 0);
  for (int64_t i = 0; i < p; ++i) std::swap(keys[i], keys[i + rng.below(k - i)]);
  std::vector<int64_t> values(static_cast<size_t>(p));
  for (int64_t i = 0; i < p; ++i) {
    values[i] = s.first_value() + rng.below(k);
    out[2 * i] = s.first_key() + keys[i];
    out[2 * i + 1] = values[i];
  }
  // Query order: a random permutation of the pairs.
  std::vector<int64_t> order(static_cast<size_t>(p));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = p - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  const std::vector<int64_t> pos = mqar_query_positions(s);
  for (int64_t j = 0; j < p; ++j) {
    out[pos[j]] = s.first_key() + keys[order[j]];
    out[pos[j] + 1] = values[order[j]];
  }
}

void mqar_batch_into(const MqarShape& s, int64_t batch, uint64_t seed, int64_t step, int64_t* out) {
  for (int64_t b = 0; b < batch; ++b)
    mqar_sequence(s, seed, static_cast<uint64_t>(step * batch + b), out + b * (s.seq_len + 1));
}

void mqar_validation_into(const MqarShape& s, int64_t first, int64_t count, int64_t* out) {
  for (int64_t i = 0; i < count; ++i)
    mqar_sequence(s, kValidationStream, static_cast<uint64_t>(first + i), out + i * (s.seq_len + 1));
}

RecallCount mqar_score(const MqarShape& s, const int64_t* predicted, const int64_t* seqs,
                       int64_t rows) {
  const std::vector<int64_t> pos = mqar_query_positions(s);
  RecallCount c;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q : pos) {
      c.correct += predicted[r * s.seq_len + q] == seqs[r * (s.seq_len + 1) + q + 1];
      ++c.total;
    }
  return c;
}

}  // namespace scalelab::evals
