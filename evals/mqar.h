// Multi-query associative recall (MQAR; Arora et al. 2023, "Zoology",
// arXiv:2312.04927): a sequence lists P key-value pairs, then asks for the
// value of every key once, in random order. A model with a fixed-size state
// must squeeze all P pairs into it; attention can look them up. That gap is
// what hybrids of linear and softmax layers are for.
//
// One sequence of seq_len + 1 tokens over vocab V (the shifted-window layout
// of the trainer: inputs [:-1], targets [1:]):
//
//   k_1 v_1 k_2 v_2 ... k_P v_P | 0 .. q_1 a_1 0 .. q_2 a_2 .. 0
//
// token 0 pads; keys are P distinct tokens of [1, 1 + K), values are drawn
// with replacement from [1 + K, 1 + 2K), K = (V - 1) / 2. The queries are the
// P keys in a random order, each at a fixed slot of the query region (slot j of
// S = (seq_len + 1 - 2P) / 2 two-token slots is floor(j S / P)), followed by
// its answer. Only the answers are scored: the target of input position q_j.
// Unlike Zoology, the answer is also the next input (teacher forcing, as in
// the trainer's shifted windows) and the query slots are fixed (which key is
// asked where is still random), so every row has the same scored positions.
//
// Sequences are a pure function of (stream, index): training row b of step s is
// index s * batch + b of the run's seed; held-out sequences come from one
// fixed stream, the same for every run of a shape.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evals/recall.h"

namespace scalelab::evals {

struct MqarShape {
  int64_t vocab = 0, seq_len = 0, pairs = 0;
  int64_t keys() const { return (vocab - 1) / 2; }  // K: also the number of values
  int64_t first_key() const { return 1; }
  int64_t first_value() const { return 1 + keys(); }
  // Throws std::invalid_argument when the pairs do not fit (4P <= seq_len, P <= K).
  void check() const;
  std::string label() const;  // "pairs=8 seq_len=64 vocab=65"
};

// Input positions whose target is an answer, in query order: [pairs].
std::vector<int64_t> mqar_query_positions(const MqarShape& s);
// Sequence INDEX of STREAM (seq_len + 1 tokens) into OUT.
void mqar_sequence(const MqarShape& s, uint64_t stream, uint64_t index, int64_t* out);
// Training rows step * batch .. + batch of SEED: [batch, seq_len + 1] into OUT.
void mqar_batch_into(const MqarShape& s, int64_t batch, uint64_t seed, int64_t step, int64_t* out);
// Held-out sequences [first, first + count): [count, seq_len + 1] into OUT.
void mqar_validation_into(const MqarShape& s, int64_t first, int64_t count, int64_t* out);


// Scores PREDICTED (the model's next-token guess at every input position,
// [rows, seq_len] row-major) against SEQS ([rows, seq_len + 1]): one answer
// per query.
RecallCount mqar_score(const MqarShape& s, const int64_t* predicted, const int64_t* seqs,
                       int64_t rows);

}  // namespace scalelab::evals
