#include "data/sink.h"

#include <fmt/format.h>

#include <algorithm>

namespace scalelab::data {

void SplitSink::write(const uint32_t* t, int64_t n, bool starts_document, uint32_t eot) {
  if (starts_document) {
    room();
    ++entries_.back().documents;
    writer_->append(&eot, 1);
  }
  append(t, n);
}

void SplitSink::append(const uint32_t* t, int64_t n) {
  while (n > 0) {
    const int64_t k = std::min(n, room());
    writer_->append(t, k);
    t += k;
    n -= k;
  }
}

std::vector<ShardEntry> SplitSink::close() {
  if (writer_) finish();
  return std::move(entries_);
}

int64_t SplitSink::room() {
  if (writer_ && writer_->tokens() == shard_tokens_) finish();
  if (!writer_) {
    ShardEntry e;
    e.file = fmt::format("{}_{:06}.bin", split_ == Split::Train ? "train" : "val", entries_.size());
    e.split = split_;
    entries_.push_back(e);
    writer_ = std::make_unique<ShardWriter>(dir_ + "/" + e.file, width_);
  }
  return shard_tokens_ - writer_->tokens();
}

void SplitSink::finish() {
  const ShardStats s = writer_->close();
  done_ += s.tokens;
  ShardEntry& e = entries_.back();
  e.tokens = s.tokens;
  e.max_token = s.max_token;
  e.xxh3 = s.xxh3;
  writer_.reset();
}

}  // namespace scalelab::data
