// A generated corpus for the data benchmarks: English text (verses of the
// built-in corpus when it is there, else pseudo-words), in documents of 20-60
// lines drawn at random, written as paragraph-separated text files and as the
// same documents in one .jsonl.
#pragma once

#include <cstdint>
#include <string>

namespace scalelab::bench {

struct Corpus {
  std::string text_dir;  // FILES text files, documents separated by blank lines
  std::string jsonl;     // the same documents, one JSON object per line
  int64_t bytes = 0;     // of document text (each form holds the same)
  int64_t documents = 0;
};

// Writes about BYTES of text under DIR (reuses what an earlier call wrote).
Corpus write_corpus(const std::string& dir, int64_t bytes, int files = 64);

}  // namespace scalelab::bench
