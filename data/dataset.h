// Reading a resolved data source (data/source.h) for training: memory-mapped
// token files, widened to int64 one batch at a time.
//
// Memory: the files are mapped (plain mmap), never read in whole, so a run's
// memory does not grow with the corpus. A corpus of up to 32 MiB of tokens is
// read through its mapping (it stays mapped); a larger one window by window
// with pread from the page cache, which costs less than the page fault a
// random window of a big mapping takes and adds nothing to the RSS.
//
// Windows: a split's segments are cut into windows of seq_len + 1 tokens that
// start seq_len apart (inputs [:-1], targets [1:]); a window never crosses a
// segment (a shard, or a run of blocks).
//
// Training batches are a pure function of (seed, step), so a resumed run sees
// exactly the batches it would have seen, with no sampler state to save. Row b
// of step s is sample g = s * batch + b; epoch g / W draws the W windows
// without replacement, in the order of a keyed pseudo-random permutation
// (a Feistel network with cycle walking: O(1) memory whatever W), and shifts
// every window by a per-epoch offset in [0, seq_len) so that epochs do not
// repeat the same cuts. Validation windows are fixed: contiguous, from the start
// of the validation split, identical for every run with the same seq_len.
//
// Thread safety: every const member may be called from several threads at once
// (a prefetch thread filling pinned buffers while the trainer evaluates).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/format.h"
#include "data/source.h"

namespace scalelab::data {

class Dataset {
 public:
  // Resolves and maps SOURCE for a model of VOCAB and SEQ_LEN. Throws DataError
  // naming the file for bad data, a token >= VOCAB, or a split too short for
  // one window.
  static Dataset open(const std::string& source, int64_t vocab, int64_t seq_len);
  static Dataset open(SourceLayout layout, int64_t vocab, int64_t seq_len);

  // Writes [batch, seq_len + 1] tokens, row-major, into OUT. Allocates nothing.
  void batch_into(Split split, int64_t batch, uint64_t seed, int64_t step, int64_t* out) const;
  // Validation windows [first, first + count) into OUT ([count, seq_len + 1]).
  // Throws std::out_of_range past num_windows(Validation).
  void validation_windows_into(int64_t first, int64_t count, int64_t* out) const;

  int64_t num_windows(Split split) const { return index(split).windows; }
  int64_t tokens(Split split) const { return layout_.tokens(split); }
  int64_t seq_len() const { return seq_len_; }
  const SourceLayout& layout() const { return layout_; }

 private:
  struct Index {
    std::vector<Segment> segments;
    std::vector<int64_t> first_window;  // per segment, prefix sums of its windows
    int64_t windows = 0;
  };
  struct Maps {
    std::vector<MappedFile> files;
    bool copied = false;  // windows are pread, not read through the mapping (see copy_window)
  };
  static Index make_index(const std::vector<Segment>& segs, int64_t seq_len);
  const Index& index(Split s) const { return s == Split::Train ? train_ : val_; }
  // Copies window W of IX (its start moved by SHIFT, clamped to the segment) to OUT.
  void copy_window(const Index& ix, int64_t w, int64_t shift, int64_t* out) const;

  SourceLayout layout_;
  int64_t seq_len_ = 0;
  Index train_, val_;
  std::shared_ptr<Maps> maps_;
};

// A keyed pseudo-random permutation of [0, n): a bijection, computed in O(1)
// memory (balanced Feistel network over the next even power of two, cycle walking).
class Permutation {
 public:
  Permutation(uint64_t n, uint64_t key);
  uint64_t operator()(uint64_t x) const;

 private:
  uint64_t n_, mask_;
  int half_;
  uint64_t keys_[6];
};

}  // namespace scalelab::data
