#include "data/dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace scalelab::data {
namespace {

// A corpus up to this size is read through its mapping (it stays mapped: no
// faults after the first pass, and the RSS it adds is bounded by this). A
// larger one is read with pread: random windows over it would fault a page
// in for nearly every window (9-20 us each, measured) and the touched pages
// would make the RSS grow with the corpus.
constexpr int64_t kMappedBudget = 32 << 20;

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t epoch_key(uint64_t seed, int64_t epoch, Split split) {
  return splitmix64(splitmix64(seed) ^ splitmix64(static_cast<uint64_t>(epoch) * 2 + (split == Split::Train)));
}

template <typename T>
void widen(const uint8_t* src, int64_t n, int64_t* out) {
  T v;
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(&v, src + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    out[i] = static_cast<int64_t>(v);
  }
}

}  // namespace

Permutation::Permutation(uint64_t n, uint64_t key) : n_(n) {
  int bits = 2;
  while (bits < 64 && (uint64_t{1} << bits) < n) ++bits;
  bits += bits & 1;
  half_ = bits / 2;
  mask_ = (uint64_t{1} << half_) - 1;
  for (int r = 0; r < 6; ++r) keys_[r] = splitmix64(key + static_cast<uint64_t>(r) * 0x632BE59BD9B4E019ULL);
}

uint64_t Permutation::operator()(uint64_t x) const {
  // Cycle walking: the network permutes [0, 2^(2 half)) ⊇ [0, n); applying it
  // until the value falls back into [0, n) restricts it to a bijection of
  // [0, n). The domain is under 4n, so the expected number of passes is too.
  do {
    uint64_t l = x >> half_, r = x & mask_;
    for (const uint64_t k : keys_) {
      const uint64_t f = splitmix64(r ^ k) & mask_;
      const uint64_t nl = r;
      r = l ^ f;
      l = nl;
    }
    x = (l << half_) | r;
  } while (x >= n_);
  return x;
}

Dataset Dataset::open(const std::string& source, int64_t vocab, int64_t seq_len) {
  return open(resolve_source(source), vocab, seq_len);
}

Dataset Dataset::open(SourceLayout layout, int64_t vocab, int64_t seq_len) {
  if (seq_len < 1) throw DataError(fmt::format("seq_len {} must be positive", seq_len));
  for (const TokenFile& f : layout.files)
    if (f.max_token >= vocab)
      throw DataError(fmt::format("{}: holds token {} but the model's vocab is {}", f.path,
                                  f.max_token, vocab));
  Dataset d;
  d.seq_len_ = seq_len;
  d.train_ = make_index(layout.train, seq_len);
  d.val_ = make_index(layout.validation, seq_len);
  for (const Split s : {Split::Train, Split::Validation})
    if (d.index(s).windows == 0)
      throw DataError(fmt::format("{}: the {} split ({} tokens) is too short for seq_len {}",
                                  layout.origin, to_string(s), layout.tokens(s), seq_len));
  d.maps_ = std::make_shared<Maps>();
  d.maps_->files.reserve(layout.files.size());
  int64_t bytes = 0;
  for (const TokenFile& f : layout.files) {
    d.maps_->files.emplace_back(f.path);
    if (d.maps_->files.back().size() < f.offset + f.tokens * f.width)
      throw DataError(f.path + ": truncated since it was checked");
    bytes += f.tokens * f.width;
  }
  d.maps_->copied = bytes > kMappedBudget;
  d.layout_ = std::move(layout);
  return d;
}

Dataset::Index Dataset::make_index(const std::vector<Segment>& segs, int64_t seq_len) {
  Index ix;
  for (const Segment& s : segs) {
    const int64_t w = s.tokens > seq_len ? (s.tokens - 1) / seq_len : 0;
    if (w == 0) continue;
    ix.segments.push_back(s);
    ix.first_window.push_back(ix.windows);
    ix.windows += w;
  }
  return ix;
}

void Dataset::copy_window(const Index& ix, int64_t w, int64_t shift, int64_t* out) const {
  const size_t k = static_cast<size_t>(
      std::upper_bound(ix.first_window.begin(), ix.first_window.end(), w) - ix.first_window.begin() - 1);
  const Segment& seg = ix.segments[k];
  const int64_t n = seq_len_ + 1;
  const int64_t start = std::min((w - ix.first_window[k]) * seq_len_ + shift, seg.tokens - n);
  const TokenFile& f = layout_.files[static_cast<size_t>(seg.file)];
  const MappedFile& file = maps_->files[static_cast<size_t>(seg.file)];
  const int64_t offset = f.offset + (seg.first + start) * f.width;
  const uint8_t* src = file.data() + offset;
  if (maps_->copied) {
    thread_local std::vector<uint8_t> staging;
    staging.resize(static_cast<size_t>(n * f.width));
    file.read(staging.data(), n * f.width, offset);
    src = staging.data();
  }
  if (f.width == 1) widen<uint8_t>(src, n, out);
  else if (f.width == 2) widen<uint16_t>(src, n, out);
  else widen<uint32_t>(src, n, out);
}

void Dataset::batch_into(Split split, int64_t batch, uint64_t seed, int64_t step, int64_t* out) const {
  const Index& ix = index(split);
  const auto W = static_cast<uint64_t>(ix.windows);
  int64_t epoch = -1;
  Permutation perm(W, 0);
  int64_t shift = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const auto g = static_cast<uint64_t>(step) * static_cast<uint64_t>(batch) + static_cast<uint64_t>(b);
    const auto e = static_cast<int64_t>(g / W);
    if (e != epoch) {  // at most twice per batch unless a batch spans epochs
      epoch = e;
      const uint64_t key = epoch_key(seed, e, split);
      perm = Permutation(W, key);
      shift = split == Split::Train ? static_cast<int64_t>(splitmix64(key ^ 0x5851F42D4C957F2DULL) %
                                                           static_cast<uint64_t>(seq_len_))
                                    : 0;
    }
    copy_window(ix, static_cast<int64_t>(perm(g % W)), shift, out + b * (seq_len_ + 1));
  }
}

void Dataset::validation_windows_into(int64_t first, int64_t count, int64_t* out) const {
  if (first < 0 || count < 0 || first + count > val_.windows)
    throw std::out_of_range(fmt::format("data: validation windows [{}, {}) out of {}", first,
                                        first + count, val_.windows));
  for (int64_t i = 0; i < count; ++i) copy_window(val_, first + i, 0, out + i * (seq_len_ + 1));
}

}  // namespace scalelab::data
