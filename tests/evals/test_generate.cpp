// The evals' model functions against the plain parallel forward: greedy
// decoding through the step forms (KV cache, O(1) recurrent state) gives the
// tokens that re-running the whole sequence gives, for every mixer and a
// hybrid; loss by position averages to the trainer's held-out loss.
#include <gtest/gtest.h>

#include "evals/generate.h"
#include "tests/models/test_util.h"

namespace scalelab::evals {
namespace {

using models::testing::make_model;
using models::testing::random_tokens;
using models::testing::tiny_archs;

TEST(Generate, GreedyStepsEqualRerunningTheSequence) {
  for (const std::string& arch : tiny_archs()) {
    models::Decoder m = make_model(arch, 3);
    const int64_t vocab = m->spec().vocab;
    const auto prompts = random_tokens(3, 21, vocab, 5);
    const auto got = greedy_of(m, torch::kCPU)(prompts, 6);
    ASSERT_EQ(got.sizes(), (std::vector<int64_t>{3, 6}));
    torch::NoGradGuard ng;
    auto seq = prompts.clone();
    for (int i = 0; i < 6; ++i) {
      auto next = m->forward(seq).select(1, -1).argmax(-1, true);
      seq = torch::cat({seq, next}, 1);
    }
    EXPECT_TRUE(torch::equal(got, seq.narrow(1, 21, 6))) << arch;
    models::DecoderState st;
    EXPECT_LT((m->last_logits(prompts, st) - m->forward(prompts).select(1, -1)).abs().max().item<double>(),
              1e-4)
        << arch;
  }
}

TEST(Generate, NextTokensAreTheArgmaxOfTheForward) {
  models::Decoder m = make_model(tiny_archs().front(), 1);
  const auto x = random_tokens(2, 12, m->spec().vocab, 2);
  torch::NoGradGuard ng;
  EXPECT_TRUE(torch::equal(next_tokens_of(m, torch::kCPU)(x), m->forward(x).argmax(-1)));
}

TEST(Generate, PositionLossesAverageToTheLoss) {
  models::Decoder m = make_model(tiny_archs().front(), 1);
  const auto w = random_tokens(5, 17, m->spec().vocab, 9);
  const auto sums = token_loss_sums(m, torch::kCPU, w, 2);  // 3 micro-batches
  ASSERT_EQ(sums.size(0), 16);
  torch::NoGradGuard ng;
  const double loss = m->loss(w.narrow(1, 0, 16), w.narrow(1, 1, 16)).item<double>();
  EXPECT_NEAR(sums.sum().item<double>() / (5 * 16), loss, 1e-5);
}

}  // namespace
}  // namespace scalelab::evals
