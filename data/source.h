// What a run's `data` names, resolved to token files and their split.
//
//   builtin:kjv    the built-in corpus (King James Bible, public domain, written
//                  by scripts/setup.sh to $SCALELAB_DATA): as text:FILE.
//   text:FILE      (or a bare path to a file) byte-level tokens, vocab 256. The
//                  file is tokenized once into a shard set under
//                  $SCALELAB_CACHE/tokens/<XXH3-128 of its content>/, shared by
//                  every run and sweep. A text file is one document, so its split
//                  is by block: the stream is cut into 64 Ki-token blocks and
//                  every 20th is held out (a file of fewer than 20 blocks holds
//                  out its last tenth), so validation text comes from the whole
//                  file, not only its end.
//   shards:DIR     (or a bare path to a folder) a shard set: made by `scalelab
//                  data prepare` (manifest.json: tokenizer, vocab, split), or
//                  llm.c-style shards without a manifest (*train*.bin train,
//                  *val*.bin validation, in name order).
//   tokens:FILE    a flat little-endian uint16 token file with no header
//                  (nanoGPT's train.bin), split by block as text:FILE.
//
// Resolving checks what is cheap to check: every file exists, headers agree
// with sizes and with the manifest. The largest token of every file is known
// (from the manifest, or scanned once and remembered in $SCALELAB_CACHE/scan/
// by path, size and modification time), so a token >= vocab is caught before
// training.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/manifest.h"

namespace scalelab::data {

struct TokenFile {
  std::string path;
  int64_t offset = 0;  // bytes before the first token (the shard header)
  int64_t tokens = 0;
  int width = 2;       // bytes per token: 1 (text), 2 or 4
  int64_t max_token = -1;
};

// Tokens [first, first + tokens) of files[file].
struct Segment {
  int file = 0;
  int64_t first = 0, tokens = 0;
};

struct SourceLayout {
  std::string source;       // as the run names it
  std::string origin;       // the file or folder behind it, for messages
  int64_t vocab = 256;      // the tokenizer's vocab
  bool vocab_exact = false; // a manifest's vocab: the model's must equal it
  std::vector<TokenFile> files;
  std::vector<Segment> train, validation;

  const std::vector<Segment>& segments(Split s) const { return s == Split::Train ? train : validation; }
  int64_t tokens(Split s) const;
  // Windows of seq_len + 1 tokens, seq_len apart, that fit the split's segments.
  int64_t windows(Split s, int64_t seq_len) const;
};

// Throws DataError naming the file (missing, truncated, wrong magic, an empty
// split, a bad manifest).
SourceLayout resolve_source(const std::string& source);

// $SCALELAB_DATA, else ~/.cache/scalelab/data/kjv.txt.
std::string builtin_corpus_path();

// The cached shard set of text FILE (made when missing; safe when several
// processes ask at once). Returns its folder.
std::string text_cache(const std::string& file);

}  // namespace scalelab::data
