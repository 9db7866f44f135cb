// Generation on the GPU (the path `scalelab eval` takes there): prefill a
// prompt whose length is not a multiple of the kernels' chunk, then step, under
// bf16 autocast; equals the parallel forward on the same device within bf16
// noise. Skips itself where no GPU is visible.
#include <gtest/gtest.h>

#include "models/autocast.h"
#include "tests/models/test_util.h"

namespace scalelab::models {
namespace {

using testing::random_tokens;

double relative_rms(const torch::Tensor& a, const torch::Tensor& b) {
  auto d = (a.to(torch::kFloat64) - b.to(torch::kFloat64)).pow(2).mean().sqrt();
  return (d / b.to(torch::kFloat64).pow(2).mean().sqrt()).item<double>();
}

// Every tiny model, and the shapes the MiniMax-01 sheet evaluates (d 512,
// vocab 8192), where a fault would only show at realistic widths.
std::vector<std::string> archs() {
  auto a = testing::tiny_archs();
  for (const char* d : {"mamba2:L2:d512:h8:kv8:f1408:v8192:T1024:tied:ds64:ex2:hd64:dc4",
                        "gdn:L2:d512:h8:kv8:f1408:v8192:T1024:tied",
                        "hgrn2:L2:d512:h8:kv8:f1408:v8192:T1024:tied",
                        "lightning:L2:d512:h8:kv8:f1408:v8192:T1024:tied",
                        "hybrid(mamba2,softmax@1:1):L2:d512:h8:kv8:f1408:v8192:T1024:tied"})
    a.push_back(d);
  return a;
}

TEST(GenerationCuda, PrefillThenStepEqualsParallelForward) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  const torch::Device dev(torch::kCUDA);
  for (const auto& d : archs()) {
    SCOPED_TRACE(d);
    auto m = testing::make_model(d, 21);
    m->to(dev);
    const int64_t vocab = spec::parse_descriptor(d).vocab;
    for (int64_t prompt : {1, 37, 259}) {
      SCOPED_TRACE(prompt);
      auto tokens = random_tokens(5, prompt + 6, vocab, 3).to(dev);
      AutocastGuard ac(true);
      auto parallel = m->forward(tokens);
      DecoderState state;
      std::vector<torch::Tensor> parts = {m->forward(tokens.narrow(1, 0, prompt), state)};
      for (int64_t t = prompt; t < tokens.size(1); ++t)
        parts.push_back(m->forward(tokens.narrow(1, t, 1), state));
      auto stepped = torch::cat(parts, 1);
      torch::cuda::synchronize();
      EXPECT_LT(relative_rms(stepped, parallel), 2e-2);
      DecoderState fresh;
      auto last = m->last_logits(tokens, fresh);
      EXPECT_LT(relative_rms(last, parallel.select(1, tokens.size(1) - 1)), 2e-2);
    }
  }
}

}  // namespace
}  // namespace scalelab::models
