// Building and initialising a model on the CPU, which every run's start-up
// pays before its weights go to the GPU (train/trainer.cpp, phase "model"):
//   bench_model_build [descriptor (lightning:L12:d768:h12:v32000:T1024)] [repeats (5)]
// Prints each repeat and the best: construction, then init_weights (seeded
// draws). Construction allocates only: the weights are drawn once, in init.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "models/decoder.h"
#include "models/spec/spec.h"

namespace {
double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

int main(int argc, char** argv) {
  using namespace scalelab;
  const std::string desc = argc > 1 ? argv[1] : "lightning:L12:d768:h12:v32000:T1024";
  const int repeats = argc > 2 ? std::stoi(argv[2]) : 5;
  spec::ModelSpec ms;
  try {
    ms = spec::parse_descriptor(desc);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_model_build: %s: %s\n", desc.c_str(), e.what());
    return 2;
  }
  double best_c = 1e30, best_i = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = now();
    models::Decoder m(ms);
    const double t1 = now();
    m->init_weights(0);
    const double t2 = now();
    best_c = std::min(best_c, t1 - t0);
    best_i = std::min(best_i, t2 - t1);
    std::printf("%s: construct %.3f s, init_weights %.3f s\n", desc.c_str(), t1 - t0, t2 - t1);
  }
  std::printf("%s: best of %d: construct %.3f s, init_weights %.3f s, total %.3f s\n",
              desc.c_str(), repeats, best_c, best_i, best_c + best_i);
  return 0;
}
