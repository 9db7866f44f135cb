// Tiny models shared by the models tests: small enough that the whole binary
// runs in well under a minute on 2 CPU cores.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "models/decoder.h"

namespace scalelab::models::testing {

// The tiny model of every registered mixer (MixerDef::tiny), then hybrids.
inline const std::vector<std::string>& tiny_hybrids() {
  static const std::vector<std::string> a = {
      "hybrid(lightning,softmax@7:1):L8:d32:h4:v64",
      "hybrid(gdn,softmax@3:1):L4:d32:h4:v64",
      "hybrid(lightning,swa@3:1):L4:d32:h4:v64:w16",
  };
  return a;
}
inline std::string tiny_descriptor(spec::MixerKind m) { return m->name + ":" + m->tiny; }
inline std::vector<std::string> tiny_archs() {
  std::vector<std::string> a;
  for (spec::MixerKind m : spec::mixers()) a.push_back(tiny_descriptor(m));
  a.insert(a.end(), tiny_hybrids().begin(), tiny_hybrids().end());
  return a;
}

inline Decoder make_model(const std::string& descriptor, uint64_t seed = 0) {
  // One intra-op thread: these shapes are far too small to split, and on a
  // shared CI machine OpenMP spin-waiting makes 2 threads ~10x slower than 1.
  at::set_num_threads(1);
  Decoder m(spec::parse_descriptor(descriptor));
  m->init_weights(seed);
  return m;
}

inline torch::Tensor random_tokens(int64_t b, int64_t t, int64_t vocab, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randint(vocab, {b, t}, gen, torch::kLong);
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace scalelab::models::testing
