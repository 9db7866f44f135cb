// Tiny models shared by the models tests: small enough that the whole binary
// runs in well under a minute on 2 CPU cores.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "models/decoder.h"

namespace scalelab::models::testing {

// One descriptor per architecture plus a 7:1 hybrid, all tiny.
inline const std::vector<std::string>& tiny_archs() {
  static const std::vector<std::string> a = {
      "softmax:L2:d32:h4:kv2:v64",
      "lightning:L2:d32:h4:v64",
      "hgrn2:L2:d32:h4:v64",
      "mamba2:L2:d32:v64:ds8:hd16",
      "hybrid(lightning,softmax@7:1):L8:d32:h4:v64",
  };
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
