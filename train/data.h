// Training data: a token stream split deterministically into train and
// validation, and reproducible batches.
//
// Sources (RunSpec::data):
//   "builtin:kjv"   the built-in corpus (King James Bible, public domain, written
//                   by scripts/setup.sh to $SCALELAB_DATA), byte-level tokens
//   "text:PATH" or "PATH"   any UTF-8 text file, byte-level tokens (vocab 256)
//   "tokens:PATH"   a flat little-endian uint16 token file (nanoGPT's train.bin)
//
// The split: the stream is cut into 64 KiB blocks and every 20th block is held
// out, so validation text comes from the whole corpus, not only its end.
//
// Batches are a pure function of (seed, step): a resumed run sees exactly the
// batches it would have seen, with no sampler state in the checkpoint.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace scalelab::train {

enum class Split { Train, Validation };

class TokenData {
 public:
  // Loads and splits SOURCE. Throws std::runtime_error naming the file when it is
  // missing, empty, too short for SEQ_LEN, or holds tokens >= VOCAB.
  static TokenData load(const std::string& source, int64_t vocab, int64_t seq_len);

  // [batch, seq_len + 1] int64: inputs are [:, :-1], targets [:, 1:].
  torch::Tensor batch(Split split, int64_t batch, uint64_t seed, int64_t step) const;
  // The i-th of the fixed validation windows (contiguous, non-overlapping).
  torch::Tensor validation_windows(int64_t first, int64_t count) const;
  int64_t num_validation_windows() const;

  int64_t train_tokens() const { return train_.numel(); }
  int64_t validation_tokens() const { return val_.numel(); }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  int64_t seq_len_ = 0;
  torch::Tensor train_, val_;  // 1-D int64 (CPU)
};

// Resolves "builtin:kjv" to the corpus file ($SCALELAB_DATA, else
// ~/.cache/scalelab/data/kjv.txt).
std::string builtin_corpus_path();

}  // namespace scalelab::train
