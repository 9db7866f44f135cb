// The shards of one split, written in order and rolled over every
// SHARD_TOKENS tokens: train_000000.bin, train_000001.bin, ... (val_... for
// the validation split), each recorded as a manifest entry.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/format.h"
#include "data/manifest.h"

namespace scalelab::data {

class SplitSink {
 public:
  SplitSink(std::string dir, Split split, int width, int64_t shard_tokens)
      : dir_(std::move(dir)), split_(split), width_(width), shard_tokens_(shard_tokens) {}

  // Appends N tokens; a document's first piece is preceded by EOT (and counted
  // as a document of the shard that EOT lands in).
  void write(const uint32_t* t, int64_t n, bool starts_document, uint32_t eot);
  // Appends N tokens with no separator (a continuation of the stream).
  void append(const uint32_t* t, int64_t n);
  // Closes the open shard; the entries of every shard written.
  std::vector<ShardEntry> close();
  int64_t tokens() const { return done_ + (writer_ ? writer_->tokens() : 0); }

 private:
  int64_t room();  // tokens the current shard still takes, opening one when full
  void finish();

  std::string dir_;
  Split split_;
  int width_;
  int64_t shard_tokens_, done_ = 0;
  std::unique_ptr<ShardWriter> writer_;
  std::vector<ShardEntry> entries_;
};

}  // namespace scalelab::data
