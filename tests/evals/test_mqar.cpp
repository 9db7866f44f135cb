// MQAR sequences and scoring on hand-made cases: exact layouts, a perfect
// recaller scores 1.0, a constant guess scores exactly its share of answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "evals/mqar.h"

namespace scalelab::evals {
namespace {

// Looks every key up in the pairs, as a model with perfect recall does; any
// other position gets 0.
std::vector<int64_t> oracle(const MqarShape& s, const std::vector<int64_t>& seqs, int64_t rows) {
  std::vector<int64_t> pred(static_cast<size_t>(rows * s.seq_len), 0);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t* x = seqs.data() + r * (s.seq_len + 1);
    for (int64_t t = 2 * s.pairs; t < s.seq_len; ++t)
      for (int64_t i = 0; i < s.pairs; ++i)
        if (x[2 * i] == x[t] && x[t] != 0) pred[r * s.seq_len + t] = x[2 * i + 1];
  }
  return pred;
}

std::vector<int64_t> validation(const MqarShape& s, int64_t rows) {
  std::vector<int64_t> v(static_cast<size_t>(rows * (s.seq_len + 1)));
  mqar_validation_into(s, 0, rows, v.data());
  return v;
}

TEST(Mqar, LayoutOfOneSequence) {
  const MqarShape s{9, 8, 2};  // K = 4 keys 1..4, values 5..8; 2 pairs, query slots at 4 and 6
  ASSERT_EQ(s.keys(), 4);
  EXPECT_EQ(mqar_query_positions(s), (std::vector<int64_t>{4, 6}));
  for (uint64_t i = 0; i < 50; ++i) {
    std::vector<int64_t> x(9);
    mqar_sequence(s, 3, i, x.data());
    EXPECT_NE(x[0], x[2]) << "keys are distinct";
    for (int j : {0, 2}) {
      EXPECT_GE(x[j], 1);
      EXPECT_LE(x[j], 4);
      EXPECT_GE(x[j + 1], 5);
      EXPECT_LE(x[j + 1], 8);
    }
    // The queries are the two keys, each followed by its own value.
    EXPECT_EQ(std::set<int64_t>({x[4], x[6]}), std::set<int64_t>({x[0], x[2]}));
    for (int q : {4, 6}) EXPECT_EQ(x[q + 1], x[q] == x[0] ? x[1] : x[3]);
    EXPECT_EQ(x[8], 0);  // padding after the last slot
  }
}

TEST(Mqar, SpreadsQueriesOverTheRegion) {
  const MqarShape s{129, 64, 8};  // 16 pair tokens, 24 two-token slots for 8 queries
  EXPECT_EQ(mqar_query_positions(s), (std::vector<int64_t>{16, 22, 28, 34, 40, 46, 52, 58}));
  std::vector<int64_t> x(65);
  mqar_sequence(s, 1, 0, x.data());
  int64_t nonzero = 0;
  for (int64_t t = 16; t < 65; ++t) nonzero += x[t] != 0;
  EXPECT_EQ(nonzero, 16);  // queries and answers only
}

TEST(Mqar, PureFunctionOfStreamAndIndex) {
  const MqarShape s{65, 32, 8};
  std::vector<int64_t> a(33), b(33), c(33);
  mqar_sequence(s, 5, 17, a.data());
  mqar_sequence(s, 5, 17, b.data());
  mqar_sequence(s, 5, 18, c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // Training row b of step s is index s * batch + b.
  std::vector<int64_t> batch(4 * 33);
  mqar_batch_into(s, 4, 5, 4, batch.data());
  EXPECT_TRUE(std::equal(a.begin(), a.end(), batch.begin() + 33));
}

TEST(Mqar, PerfectRecallScoresOne) {
  const MqarShape s{129, 64, 16};
  const auto seqs = validation(s, 200);
  const RecallCount c = mqar_score(s, oracle(s, seqs, 200).data(), seqs.data(), 200);
  EXPECT_EQ(c.total, 200 * 16);
  EXPECT_EQ(c.correct, c.total);
  EXPECT_DOUBLE_EQ(c.accuracy(), 1.0);
}

TEST(Mqar, ConstantGuessScoresItsShareOfAnswers) {
  const MqarShape s{129, 64, 16};  // 64 values
  const int64_t rows = 2000;
  const auto seqs = validation(s, rows);
  const int64_t guess = s.first_value() + 5;
  std::vector<int64_t> pred(static_cast<size_t>(rows * s.seq_len), guess);
  int64_t hits = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q : mqar_query_positions(s)) hits += seqs[r * 65 + q + 1] == guess;
  const RecallCount c = mqar_score(s, pred.data(), seqs.data(), rows);
  EXPECT_EQ(c.correct, hits);
  // Chance is 1 / 64; 32000 answers put 3 standard deviations at 0.0021.
  EXPECT_NEAR(c.accuracy(), 1.0 / 64, 3 * std::sqrt((1.0 / 64) * (63.0 / 64) / 32000));
}

TEST(Mqar, HandWrittenSequenceScoresExactly) {
  const MqarShape s{9, 8, 2};
  // pairs (1,5) (3,8); queries 3 at 4, 1 at 6.
  const std::vector<int64_t> seq = {1, 5, 3, 8, 3, 8, 1, 5, 0};
  std::vector<int64_t> pred(8, 0);
  pred[4] = 8;  // right
  pred[6] = 6;  // wrong
  const RecallCount c = mqar_score(s, pred.data(), seq.data(), 1);
  EXPECT_EQ(c.correct, 1);
  EXPECT_EQ(c.total, 2);
  EXPECT_DOUBLE_EQ(c.accuracy(), 0.5);
}

TEST(Mqar, ChecksItsShape) {
  EXPECT_THROW((MqarShape{129, 63, 16}.check()), std::invalid_argument);  // 4P > T
  EXPECT_THROW((MqarShape{32, 64, 16}.check()), std::invalid_argument);   // K = 15 < P
  EXPECT_THROW((MqarShape{129, 64, 0}.check()), std::invalid_argument);
  EXPECT_NO_THROW((MqarShape{33, 64, 16}.check()));
}

}  // namespace
}  // namespace scalelab::evals
