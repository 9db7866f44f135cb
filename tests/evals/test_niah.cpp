// S-NIAH prompts and scoring on hand-made cases: prompts have exactly the
// asked length with the needle at its depth; a perfect copier (an induction
// head: find the question's last words earlier in the prompt, copy what
// followed) recalls every needle; a constant continuation scores exactly the
// share of answers it happens to spell.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "data/tokenizer.h"
#include "evals/niah.h"
#include "evals/position_loss.h"

namespace scalelab::evals {
namespace {

std::vector<uint32_t> copier(const NiahPrompt& p, size_t n) {
  const size_t k = 10, len = p.prompt.size();
  const auto tail = p.prompt.end() - static_cast<std::ptrdiff_t>(k);
  const auto hit = std::search(p.prompt.begin(), p.prompt.end() - static_cast<std::ptrdiff_t>(k), tail,
                               p.prompt.end());
  std::vector<uint32_t> out(n, 0);
  const size_t from = static_cast<size_t>(hit - p.prompt.begin()) + k;
  for (size_t i = 0; i < n && from + i < len; ++i) out[i] = p.prompt[from + i];
  return out;
}

NiahSource bytes_source(const data::Tokenizer& tok) {
  NiahSource s{&tok, nullptr};
  s.text = [&tok](uint64_t sample, int64_t n) {
    std::vector<uint32_t> out;
    const std::string line = "And God said, Let there be light: and there was light " +
                             std::to_string(sample) + ". ";
    while (static_cast<int64_t>(out.size()) < n) tok.encode(line, out);
    return out;
  };
  return s;
}

TEST(Niah, PromptHasTheContextLengthAndTheNeedleAtItsDepth) {
  const auto tok = data::byte_tokenizer();
  const NiahSource src = bytes_source(*tok);
  for (const std::string& name : niah_variant_names()) {
    const NiahVariant v = parse_niah_variant(name);
    const std::string starts = v.needle == Needle::Passkey ? " The pass key is " : " One of the special";
    for (int64_t ctx : {300, 1000}) {
      // At depth 1 the needle sits after the whole haystack: its start is H.
      const int64_t h = make_niah_prompt(src, v, ctx, 1.0, 3).needle_at;
      EXPECT_GT(h, ctx - niah_overhead(src, v) - 1) << name;
      for (double depth : {0.0, 0.3, 0.5, 1.0}) {
        const NiahPrompt p = make_niah_prompt(src, v, ctx, depth, 3);
        ASSERT_EQ(static_cast<int64_t>(p.prompt.size()), ctx) << name;
        EXPECT_EQ(p.needle_at, std::llround(depth * static_cast<double>(h)));
        const std::string text = tok->decode(p.prompt);
        EXPECT_EQ(text.substr(static_cast<size_t>(p.needle_at), starts.size()), starts) << name;
        const std::string answer = tok->decode(p.answer);
        EXPECT_EQ(answer.size(), v.needle == Needle::Passkey ? 5u : 7u);
        EXPECT_LT(text.find(answer, static_cast<size_t>(p.needle_at)) - static_cast<size_t>(p.needle_at), 60u)
            << "the value is in the needle";
        const std::string ends = v.needle == Needle::Passkey ? " is " : " is: ";
        EXPECT_EQ(text.substr(text.size() - ends.size()), ends);
      }
    }
  }
}

TEST(Niah, SamplesAskDifferentValuesTheSameEverywhere) {
  const auto tok = data::byte_tokenizer();
  const NiahSource src = bytes_source(*tok);
  const NiahVariant v = parse_niah_variant("word/repeat");
  EXPECT_EQ(make_niah_prompt(src, v, 400, 0.5, 1).prompt, make_niah_prompt(src, v, 400, 0.5, 1).prompt);
  EXPECT_NE(make_niah_prompt(src, v, 400, 0.5, 1).answer, make_niah_prompt(src, v, 400, 0.5, 2).answer);
}

TEST(Niah, PerfectCopierRecallsEveryNeedle) {
  const auto tok = data::byte_tokenizer();
  const NiahSource src = bytes_source(*tok);
  for (const std::string& name : niah_variant_names()) {
    std::vector<NiahPrompt> prompts;
    std::vector<std::vector<uint32_t>> out;
    for (double depth : {0.0, 0.25, 0.5, 0.75, 1.0})
      for (uint64_t k = 0; k < 8; ++k) {
        prompts.push_back(make_niah_prompt(src, parse_niah_variant(name), 512, depth, k));
        out.push_back(copier(prompts.back(), prompts.back().answer.size()));
      }
    const RecallCount c = niah_score(prompts, out);
    EXPECT_EQ(c.total, 40);
    EXPECT_DOUBLE_EQ(c.accuracy(), 1.0) << name;
  }
}

TEST(Niah, ConstantContinuationScoresTheAnswersItSpells) {
  const auto tok = data::byte_tokenizer();
  const NiahSource src = bytes_source(*tok);
  std::vector<NiahPrompt> prompts;
  std::vector<std::vector<uint32_t>> out;
  for (uint64_t k = 0; k < 200; ++k) {
    prompts.push_back(make_niah_prompt(src, parse_niah_variant("passkey/repeat"), 200, 0.5, k));
    out.push_back(std::vector<uint32_t>(5, static_cast<uint32_t>('7')));
  }
  // Chance of a 5-digit passkey is 1 / 90000: of these 200, none is 77777.
  int64_t spelled = 0;
  for (const NiahPrompt& p : prompts) spelled += tok->decode(p.answer) == "77777";
  EXPECT_EQ(spelled, 0);
  EXPECT_EQ(niah_score(prompts, out).correct, 0);
  // A hand-made pair: one right, one short, one wrong: exactly 1/3.
  std::vector<NiahPrompt> hand(3);
  for (NiahPrompt& p : hand) tok->encode("12345", p.answer);
  const RecallCount c = niah_score(hand, {{'1', '2', '3', '4', '5', '.'}, {'1', '2', '3'}, {'1', '2', '3', '4', '6'}});
  EXPECT_EQ(c.correct, 1);
  EXPECT_DOUBLE_EQ(c.accuracy(), 1.0 / 3);
}

TEST(Niah, RejectsWhatCannotBeAsked) {
  const auto tok = data::byte_tokenizer();
  const NiahSource src = bytes_source(*tok);
  const NiahVariant v = parse_niah_variant("passkey/repeat");
  EXPECT_THROW(make_niah_prompt(src, v, niah_overhead(src, v), 0.5, 0), std::invalid_argument);
  EXPECT_NO_THROW(make_niah_prompt(src, v, niah_overhead(src, v) + 1, 0.5, 0));
  EXPECT_THROW(make_niah_prompt(src, v, 500, 1.5, 0), std::invalid_argument);
  EXPECT_THROW(parse_niah_variant("passkey/essay"), std::invalid_argument);
  NiahSource no_text{tok.get(), nullptr};
  EXPECT_THROW(make_niah_prompt(no_text, parse_niah_variant("passkey/text"), 500, 0.5, 0),
               std::invalid_argument);
}

TEST(PositionLoss, BucketsOfDoublingWidth) {
  // Position p has summed loss p over 2 rows: mean p / 2.
  std::vector<double> sums(10);
  for (int p = 1; p <= 10; ++p) sums[p - 1] = p;
  const auto b = position_buckets(sums, 2);
  ASSERT_EQ(b.size(), 5u);  // 1, 2, 3-4, 5-8, 9-10
  const int64_t last[] = {1, 2, 4, 8, 10};
  const double mean[] = {0.5, 1.0, 1.75, 3.25, 4.75};
  for (size_t i = 0; i < b.size(); ++i) {
    EXPECT_EQ(b[i].last, last[i]);
    EXPECT_DOUBLE_EQ(b[i].loss, mean[i]);
  }
  EXPECT_EQ(b[3].first, 5);
  EXPECT_EQ(b[3].tokens, 8);
}

}  // namespace
}  // namespace scalelab::evals
