// Generation: the recurrent step (KV cache for softmax, O(1) state for the
// linear mixers) reproduces the parallel forward.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include "tests/models/test_util.h"

namespace scalelab::models {
namespace {

using testing::make_model;
using testing::max_abs_diff;
using testing::random_tokens;

TEST(Generation, StepByStepEqualsParallelForward) {
  torch::NoGradGuard no_grad;
  for (const auto& d : testing::tiny_archs()) {
    SCOPED_TRACE(d);
    auto m = make_model(d, 11);
    auto tokens = random_tokens(2, 24, 64, 2);
    auto parallel = m->forward(tokens);
    DecoderState state;
    std::vector<torch::Tensor> steps;
    for (int64_t t = 0; t < tokens.size(1); ++t) steps.push_back(m->forward(tokens.narrow(1, t, 1), state));
    auto stepped = torch::cat(steps, 1);
    EXPECT_LT(max_abs_diff(stepped, parallel), 1e-4);
    EXPECT_GT(parallel.abs().max().item<double>(), 1e-2);  // not trivially zero
    for (const auto& layer : state.layers) EXPECT_EQ(layer.pos, 24);
  }
}

// Prefill 40 tokens in one call (chunked form from zeros, or the masked KV
// path), then step: equals the parallel forward over all 70 tokens.
TEST(Generation, PrefillThenStepEqualsParallelForward) {
  torch::NoGradGuard no_grad;
  for (const auto& d : testing::tiny_archs()) {
    SCOPED_TRACE(d);
    auto m = make_model(d, 12);
    auto tokens = random_tokens(1, 70, 64, 4);
    auto parallel = m->forward(tokens);
    DecoderState state;
    std::vector<torch::Tensor> parts = {m->forward(tokens.narrow(1, 0, 40), state)};
    parts.push_back(m->forward(tokens.narrow(1, 40, 20), state));  // a second prefill
    for (int64_t t = 60; t < 70; ++t) parts.push_back(m->forward(tokens.narrow(1, t, 1), state));
    EXPECT_LT(max_abs_diff(torch::cat(parts, 1), parallel), 1e-4);
  }
}

TEST(Generation, LinearStateIsConstantSize) {
  torch::NoGradGuard no_grad;
  auto m = make_model("hybrid(lightning,softmax@7:1):L8:d32:h4:v64");
  DecoderState state;
  m->forward(random_tokens(1, 5, 64, 1), state);
  const auto ssm = state.layers[0].ssm.sizes().vec();
  m->forward(random_tokens(1, 50, 64, 2), state);
  EXPECT_EQ(state.layers[0].ssm.sizes().vec(), ssm);               // [B,H,K,V]
  EXPECT_EQ(state.layers[0].ssm.sizes(), torch::IntArrayRef({1, 4, 8, 8}));
  EXPECT_EQ(state.layers[7].k.size(2), 55);                         // softmax cache grows
}

// Sliding-window attention keeps at most w - 1 keys, whatever the prompt, and
// still equals the parallel forward (prefill longer than the window, then steps).
TEST(Generation, SlidingWindowCacheIsBoundedByWindow) {
  torch::NoGradGuard no_grad;
  auto m = make_model("swa:L2:d32:h4:kv2:v64:w16", 5);
  auto tokens = random_tokens(1, 90, 64, 6);
  auto parallel = m->forward(tokens);
  DecoderState state;
  std::vector<torch::Tensor> parts = {m->forward(tokens.narrow(1, 0, 70), state)};
  EXPECT_EQ(state.layers[0].k.size(2), 15);
  for (int64_t t = 70; t < 90; ++t) {
    parts.push_back(m->forward(tokens.narrow(1, t, 1), state));
    EXPECT_EQ(state.layers[1].v.size(2), 15);
  }
  EXPECT_LT(max_abs_diff(torch::cat(parts, 1), parallel), 1e-4);
  // A window as long as the sequence is softmax attention, weight for weight.
  auto wide = make_model("swa:L2:d32:h4:kv2:v64:w90", 5);
  auto full = make_model("softmax:L2:d32:h4:kv2:v64", 5);
  EXPECT_LT(max_abs_diff(wide->forward(tokens), full->forward(tokens)), 1e-5);
  // A narrower one is not.
  EXPECT_GT(max_abs_diff(parallel, full->forward(tokens)), 1e-3);
}

}  // namespace
}  // namespace scalelab::models
