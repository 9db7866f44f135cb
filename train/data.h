// Training data as tensors: the memory-mapped reader of data/dataset.h behind
// the interface the trainer uses.
//
// Sources (RunSpec::data, data/source.h): "builtin:kjv", "text:FILE" (or a bare
// file path), "shards:DIR" (or a bare folder path; `scalelab data prepare` or
// llm.c shards), "tokens:FILE" (flat uint16).
//
// Batches are a pure function of (seed, step): a resumed run sees exactly the
// batches it would have seen, with no sampler state in the checkpoint. Tokens
// stay in the mapped files at their stored width and are widened to int64 one
// batch at a time, so a run's memory does not grow with the corpus.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "data/dataset.h"

namespace scalelab::train {

using Split = data::Split;

class TokenData {
 public:
  // Resolves and maps SOURCE. Throws std::runtime_error (data::DataError) naming
  // the file when it is missing, truncated, not a shard, too short for SEQ_LEN,
  // or holds tokens >= VOCAB.
  static TokenData load(const std::string& source, int64_t vocab, int64_t seq_len);

  // [batch, seq_len + 1] int64 (CPU): inputs are [:, :-1], targets [:, 1:].
  torch::Tensor batch(Split split, int64_t batch, uint64_t seed, int64_t step) const;
  // The same tokens as batch(), written into OUT (batch * (seq_len + 1) int64,
  // e.g. a pinned buffer) without allocating. Safe to call from another thread.
  void batch_into(Split split, int64_t batch, uint64_t seed, int64_t step, int64_t* out) const {
    data_.batch_into(split, batch, seed, step, out);
  }
  // Validation windows [first, first + count): contiguous, non-overlapping, the
  // same for every run with this seq_len. [count, seq_len + 1] int64.
  torch::Tensor validation_windows(int64_t first, int64_t count) const;
  int64_t num_validation_windows() const { return data_.num_windows(Split::Validation); }

  int64_t train_tokens() const { return data_.tokens(Split::Train); }
  int64_t validation_tokens() const { return data_.tokens(Split::Validation); }
  const std::string& source() const { return data_.layout().source; }
  const data::Dataset& dataset() const { return data_; }

 private:
  explicit TokenData(data::Dataset d) : data_(std::move(d)) {}
  data::Dataset data_;
};

using data::builtin_corpus_path;

}  // namespace scalelab::train
