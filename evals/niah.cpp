#include "evals/niah.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <stdexcept>

#include "evals/rng.h"

namespace scalelab::evals {

namespace {

constexpr uint64_t kNiahStream = 0x6e69'6168ULL;  // "niah": values and words
constexpr const char* kNoise =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";
// RULER draws its keys from a word list; a fixed short one keeps prompts the
// same on every machine.
constexpr const char* kWords[] = {"apple",  "river",  "candle", "garden", "silver", "window",
                                  "forest", "marble", "pepper", "harbor", "violet", "copper",
                                  "meadow", "lantern", "pillow", "thunder"};

std::string digits(Rng& rng, int n) {
  std::string s;
  s += static_cast<char>('1' + rng.below(9));  // no leading zero, as RULER
  for (int i = 1; i < n; ++i) s += static_cast<char>('0' + rng.below(10));
  return s;
}

struct Texts {
  std::string needle, question, value;
};

Texts texts(const NiahVariant& v, uint64_t sample) {
  Rng rng(kNiahStream, sample);
  Texts t;
  if (v.needle == Needle::Passkey) {
    t.value = digits(rng, 5);
    t.needle = fmt::format(" The pass key is {0}. Remember it. {0} is the pass key. ", t.value);
    t.question = " What is the pass key? The pass key is ";
  } else {
    const char* word = kWords[rng.below(std::size(kWords))];
    t.value = digits(rng, 7);
    t.needle = fmt::format(" One of the special magic numbers for {} is: {}. ", word, t.value);
    t.question = fmt::format(
        " What is the special magic number for {0}? The special magic number for {0} is: ", word);
  }
  return t;
}

std::vector<uint32_t> encode(const data::Tokenizer& tok, const std::string& s) {
  std::vector<uint32_t> out;
  tok.encode(s, out);
  return out;
}

std::vector<uint32_t> haystack(const NiahSource& src, const NiahVariant& v, uint64_t sample,
                               int64_t n) {
  std::vector<uint32_t> h;
  if (v.haystack == Haystack::Text) {
    if (!src.text) throw std::invalid_argument("niah: a text haystack needs held-out text");
    h = src.text(sample, n);
    if (static_cast<int64_t>(h.size()) < n)
      throw std::invalid_argument(
          fmt::format("niah: held-out text holds {} tokens, the haystack needs {}", h.size(), n));
  } else {
    const std::vector<uint32_t> unit = encode(*src.tokenizer, kNoise);
    while (static_cast<int64_t>(h.size()) < n) h.insert(h.end(), unit.begin(), unit.end());
  }
  h.resize(static_cast<size_t>(n));
  return h;
}

}  // namespace

std::string NiahVariant::name() const {
  return std::string(needle == Needle::Passkey ? "passkey" : "word") + "/" +
         (haystack == Haystack::Repeat ? "repeat" : "text");
}

std::vector<std::string> niah_variant_names() {
  return {"passkey/repeat", "passkey/text", "word/repeat", "word/text"};
}

NiahVariant parse_niah_variant(const std::string& name) {
  for (Needle n : {Needle::Passkey, Needle::Word})
    for (Haystack h : {Haystack::Repeat, Haystack::Text})
      if (NiahVariant{n, h}.name() == name) return {n, h};
  std::string known;
  for (const std::string& k : niah_variant_names()) known += (known.empty() ? "" : ", ") + k;
  throw std::invalid_argument("unknown S-NIAH variant '" + name + "' (known: " + known + ")");
}

int64_t niah_overhead(const NiahSource& src, const NiahVariant& v) {
  // The longest needle and question over the samples' words (values have a
  // fixed number of digits).
  int64_t most = 0;
  for (uint64_t s = 0; s < 64; ++s) {
    const Texts t = texts(v, s);
    most = std::max<int64_t>(most, encode(*src.tokenizer, t.needle).size() +
                                       encode(*src.tokenizer, t.question).size());
  }
  return most;
}

NiahPrompt make_niah_prompt(const NiahSource& src, const NiahVariant& v, int64_t context,
                            double depth, uint64_t sample) {
  if (!(depth >= 0 && depth <= 1))
    throw std::invalid_argument(fmt::format("niah: depth must be in [0, 1], got {}", depth));
  const Texts t = texts(v, sample);
  const std::vector<uint32_t> needle = encode(*src.tokenizer, t.needle),
                              question = encode(*src.tokenizer, t.question);
  const int64_t n = context - static_cast<int64_t>(needle.size() + question.size());
  if (n < 1)
    throw std::invalid_argument(fmt::format(
        "niah: context {} leaves no room for a haystack ({} needs {} tokens for needle and question)",
        context, v.name(), needle.size() + question.size()));
  const std::vector<uint32_t> hay = haystack(src, v, sample, n);
  const int64_t at = std::llround(depth * static_cast<double>(n));
  NiahPrompt p;
  p.prompt.reserve(static_cast<size_t>(context));
  p.prompt.insert(p.prompt.end(), hay.begin(), hay.begin() + at);
  p.needle_at = at;
  p.prompt.insert(p.prompt.end(), needle.begin(), needle.end());
  p.prompt.insert(p.prompt.end(), hay.begin() + at, hay.end());
  p.prompt.insert(p.prompt.end(), question.begin(), question.end());
  p.answer = encode(*src.tokenizer, t.value);
  return p;
}

RecallCount niah_score(const std::vector<NiahPrompt>& prompts,
                       const std::vector<std::vector<uint32_t>>& generated) {
  if (prompts.size() != generated.size())
    throw std::invalid_argument(fmt::format("niah_score: {} prompts but {} continuations",
                                            prompts.size(), generated.size()));
  RecallCount c;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto& a = prompts[i].answer;
    const auto& g = generated[i];
    c.correct += g.size() >= a.size() && std::equal(a.begin(), a.end(), g.begin());
    ++c.total;
  }
  return c;
}

}  // namespace scalelab::evals
