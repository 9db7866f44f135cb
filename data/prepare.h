// `scalelab data prepare`: text in, a shard set out.
//
// The inputs (data/inputs.h) are read as documents, tokenized on every core
// in batches and written in input order: each document is preceded by the
// tokenizer's end-of-text token (as in llm.c's FineWeb shards), train and
// validation documents go to their own shards of at most --shard-tokens tokens
// (a document may continue in the next shard), and manifest.json describes the
// result (data/manifest.h).
//
// The validation split is by document and deterministic: a document is held
// out when the XXH3-64 of its text (its first 4 MiB piece) falls below
// val_fraction x 2^64. It depends on the document's content alone, not on the
// input order or the tokenizer, and duplicates land in the same split.
//
// Nothing is half-written: the set is built in OUT.tmp-PID and renamed to OUT
// when complete; on any error the temporary folder is removed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/inputs.h"
#include "data/manifest.h"

namespace scalelab::data {

struct PrepareOptions {
  std::vector<std::string> inputs;
  std::string out;
  std::string tokenizer = "byte";  // byte | bpe | unigram | PATH to a SentencePiece .model
  int64_t train_vocab = 0;         // --train-tokenizer VOCAB, for bpe and unigram
  double val_fraction = 0.005;
  int64_t shard_tokens = 100'000'000;
  TextDocs text_docs = TextDocs::File;
  int threads = 0;                 // 0: one per core
  int64_t tokenizer_lines = 2'000'000;  // lines sampled to train a tokenizer
  bool progress = true;            // progress line on stderr
};

struct PrepareResult {
  Manifest manifest;
  double seconds = 0;
  int64_t skipped_files = 0;  // files in input directories with other extensions
};

// Throws DataError (bad options or input, naming the file or option).
PrepareResult prepare(const PrepareOptions& opt);

// The split rule: true when the document whose first piece is TEXT is held out.
bool held_out(std::string_view text, double val_fraction);

}  // namespace scalelab::data
