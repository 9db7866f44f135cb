// The evals' random numbers: a counter-based generator (SplitMix64 over a
// key made of a stream and an index), so every generated sequence is a pure
// function of (stream, index), the same on every machine and library.
#pragma once

#include <cstdint>

namespace scalelab::evals {

class Rng {
 public:
  Rng(uint64_t stream, uint64_t index) : s_(mix(mix(stream) ^ (index * 0x9e3779b97f4a7c15ULL))) {}
  uint64_t next() { return mix(s_ += 0x9e3779b97f4a7c15ULL); }
  // Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-32 for
  // the n used here).
  int64_t below(int64_t n) {
    return static_cast<int64_t>((static_cast<unsigned __int128>(next()) * static_cast<uint64_t>(n)) >> 64);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t s_;
};

}  // namespace scalelab::evals
