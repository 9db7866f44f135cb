// Tokenizers for `scalelab data prepare`.
//
//   byte           the UTF-8 bytes themselves, vocab 256; the end-of-text token
//                  is byte 0 (NUL), which text never holds (inputs with a NUL
//                  are refused as binary).
//   sentencepiece  a SentencePiece BPE or unigram model (Debian's
//                  libsentencepiece): an existing .model file, or one trained on
//                  the corpus. The end-of-text token is the model's eos piece.
//
// Models we train keep text exactly (identity normalisation, no whitespace
// folding, byte fallback for characters outside the vocab), so decode(encode(x))
// == x and no token is ever <unk>.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/manifest.h"

namespace scalelab::data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Appends the tokens of TEXT to OUT. Safe to call from several threads.
  virtual void encode(std::string_view text, std::vector<uint32_t>& out) const = 0;
  virtual std::string decode(const std::vector<uint32_t>& tokens) const = 0;
  // type, model, vocab and eot; file is the name save() writes ("" for none).
  virtual TokenizerInfo info() const = 0;
  // Writes the tokenizer beside the shards in DIR (nothing for byte-level).
  virtual void save(const std::string& dir) const = 0;
};

std::unique_ptr<Tokenizer> byte_tokenizer();
// Throws DataError naming PATH when it is missing or not a SentencePiece model,
// or has no eos piece.
std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& path);

struct TrainTokenizerOptions {
  std::string model = "bpe";  // bpe | unigram
  int64_t vocab = 8192;
  int threads = 1;
  int64_t max_lines = 2'000'000;  // lines sampled from the corpus (SentencePiece reservoir)
};
// Trains on the lines NEXT_LINE yields (false at the end). Throws DataError
// with SentencePiece's reason (e.g. a vocab the corpus cannot fill).
std::unique_ptr<Tokenizer> train_sentencepiece(const TrainTokenizerOptions& opt,
                                               const std::function<bool(std::string&)>& next_line);

// The tokenizer a manifest describes; DIR holds its file.
std::unique_ptr<Tokenizer> load_tokenizer(const TokenizerInfo& info, const std::string& dir);

}  // namespace scalelab::data
