// Single-needle "needle in a haystack" prompts, RULER style (Hsieh et al.
// 2024, arXiv:2404.06654, S-NIAH): one needle hidden at a depth of a
// haystack, then a question whose answer is the needle's value; scored by
// exact match of the greedy continuation against the value's tokens.
//
// Needles (RULER's templates, shortened for small models):
//   passkey  "The pass key is 71432. Remember it. 71432 is the pass key."
//            asked as " What is the pass key? The pass key is " (5 digits)
//   word     "One of the special magic numbers for apple is: 4185236."
//            asked as " What is the special magic number for apple? The
//            special magic number for apple is: " (7 digits)
// Haystacks:
//   repeat   RULER's noise: "The grass is green. The sky is blue. The sun is
//            yellow. Here we go. There and back again." repeated
//   text     real held-out text: the run's validation tokens
//
// A prompt is exactly CONTEXT tokens: haystack[:a] needle haystack[a:]
// question, with a = round(depth x haystack length) (the needle may split a
// word of a text haystack: RULER moves it to a sentence boundary, we do not).
// Values and words are a pure function of (sample index), so every run is
// asked the same questions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "evals/recall.h"

namespace scalelab::evals {

enum class Needle { Passkey, Word };
enum class Haystack { Repeat, Text };

struct NiahVariant {
  Needle needle = Needle::Passkey;
  Haystack haystack = Haystack::Repeat;
  std::string name() const;  // "passkey/repeat", "word/text", ...
};
// Parses "passkey/repeat" etc.; throws std::invalid_argument listing the known ones.
NiahVariant parse_niah_variant(const std::string& name);
std::vector<std::string> niah_variant_names();

struct NiahPrompt {
  std::vector<uint32_t> prompt;  // exactly the context length
  std::vector<uint32_t> answer;  // the value's tokens the model must continue with
  int64_t needle_at = 0;         // token index where the needle starts
};

// What a prompt is built from: the tokenizer, and for a text haystack
// held-out tokens to cut it from (at least as long as the haystack).
struct NiahSource {
  const data::Tokenizer* tokenizer = nullptr;
  // Held-out tokens [sample] -> at least N tokens of held-out text, starting
  // at a place that depends on SAMPLE.
  std::function<std::vector<uint32_t>(uint64_t sample, int64_t n)> text;
};

// Tokens the needle and the question take (the shortest context is this + 1).
int64_t niah_overhead(const NiahSource& src, const NiahVariant& v);
// Throws std::invalid_argument when CONTEXT leaves no room for a haystack,
// or DEPTH is outside [0, 1].
NiahPrompt make_niah_prompt(const NiahSource& src, const NiahVariant& v, int64_t context,
                            double depth, uint64_t sample);

// Exact-match recall of GENERATED ([rows] continuations, each at least as
// long as its answer) against the prompts' answers.

RecallCount niah_score(const std::vector<NiahPrompt>& prompts,
                       const std::vector<std::vector<uint32_t>>& generated);

}  // namespace scalelab::evals
