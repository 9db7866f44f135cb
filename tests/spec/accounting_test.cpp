// Parameter and FLOP counts against published models and hand counts.
#include <gtest/gtest.h>

#include "models/spec/spec.h"

namespace scalelab::spec {
namespace {

TEST(Params, Llama2_7B) {
  // Touvron et al. 2023; HF meta-llama/Llama-2-7b-hf: 6,738,415,616.
  const ParamCount c = count_params(parse_descriptor("softmax:L32:d4096:h32:f11008:v32000:untied"));
  EXPECT_EQ(c.total, 6'738'415'616);
  EXPECT_EQ(c.embedding, 2 * 32000 * 4096);
  EXPECT_EQ(c.non_embedding, 6'738'415'616 - 262'144'000);
}

TEST(Params, TinyLlama_1_1B_GQA) {
  // TinyLlama/TinyLlama-1.1B (22 layers, GQA 32 query / 4 kv heads): 1,100,048,384.
  const ParamCount c =
      count_params(parse_descriptor("softmax:L22:d2048:h32:kv4:f5632:v32000:untied"));
  EXPECT_EQ(c.total, 1'100'048'384);
}

TEST(Params, TiedEmbeddingsCountOnce) {
  const ParamCount untied = count_params(parse_descriptor("softmax:L2:d64:h4:f128:v100:untied"));
  const ParamCount tied = count_params(parse_descriptor("softmax:L2:d64:h4:f128:v100:tied"));
  EXPECT_EQ(untied.total - tied.total, 100 * 64);
  EXPECT_EQ(untied.non_embedding, tied.non_embedding);
}

// Hand counts, tensor by tensor (d 64, ffn 128, vocab 100; block norms +
// SwiGLU = 2*64 + 3*64*128 = 24704 per layer; final norm 64).
TEST(Params, HandCountsPerMixer) {
  // GQA: q, o 64x64; k, v 64x32.
  EXPECT_EQ(count_params(parse_descriptor("softmax:L2:d64:h4:kv2:f128:v100:untied")).total,
            2 * (8192 + 4096 + 24704) + 64 + 12800);
  // qkv 64x192, gate 64x64, out 64x64, norm 64.
  EXPECT_EQ(count_params(parse_descriptor("lightning:L2:d64:h4:f128:v100")).total,
            2 * (5 * 4096 + 64 + 24704) + 64 + 6400);
  // q, f, i, o 64x64, norm 64, lower bounds 2 x 64.
  EXPECT_EQ(count_params(parse_descriptor("hgrn2:L2:d64:h4:f128:v100")).total,
            2 * (4 * 4096 + 64 + 24704) + 128 + 64 + 6400);
  // d_inner 128, 4 heads, d_state 16: in_proj 64x(256+32+4), conv 160x4 + 160,
  // dt_bias/A_log/D 3x4, norm 128, out_proj 128x64.
  EXPECT_EQ(count_params(parse_descriptor("mamba2:L2:d64:f128:v100:ds16:hd32")).total,
            2 * (18688 + 800 + 12 + 128 + 8192 + 24704) + 64 + 6400);
}

TEST(Params, HybridSumsItsLayers) {
  const ModelSpec h = parse_descriptor("hybrid(lightning,softmax@3:1):L8:d64:h4:kv2:f128:v100");
  const ParamCount c = count_params(h);
  EXPECT_EQ(c.non_embedding, 6 * mixer_params(h, mixer("lightning")) +
                                 2 * mixer_params(h, mixer("softmax")) + 8 * 24704 + 64);
}

TEST(Flops, SoftmaxHandCount) {
  // head 2*64*100; layer 2*(4*64^2 + 3*64*128); attention 4*64*(8+1)/2.
  const double fwd = 12800 + 81920 + 1152;
  EXPECT_DOUBLE_EQ(train_flops_per_token(parse_descriptor("softmax:L1:d64:h4:f128:v100:T8")),
                   3 * fwd);
}

TEST(Flops, LinearHandCount) {
  // T 100 = one chunk of 64 + 36: mean span (64*65/2 + 36*37/2)/100 = 27.46;
  // 4 heads of K = V = 16: 4 * (2*32*27.46 + 4*256).
  const double fwd = 12800 + 2 * (5 * 4096 + 3 * 64 * 128) + 4 * (2 * 32 * 27.46 + 4 * 256);
  EXPECT_NEAR(train_flops_per_token(parse_descriptor("lightning:L1:d64:h4:f128:v100:T100")),
              3 * fwd, 1e-6);
}

TEST(Flops, Llama2_7B) {
  // 3 x (2*4096*32000 + 32*2*(4*4096^2 + 3*4096*11008) + 32*4*4096*4097/2).
  const ModelSpec s = parse_descriptor("softmax:L32:d4096:h32:f11008:v32000:T4096:untied");
  EXPECT_DOUBLE_EQ(train_flops_per_token(s), 42'864'476'160.0);
  EXPECT_NEAR(train_flops_per_token(s) / approx_flops_per_token(s), 1.06, 0.01);
}

TEST(Flops, SoftmaxGrowsWithSeqLenLinearDoesNot) {
  auto at = [](const std::string& arch, int t) {
    return train_flops_per_token(parse_descriptor(arch + ":L4:d256:h4:T" + std::to_string(t)));
  };
  // Doubling T from 2048 adds 3 * 4 layers * 4 d * 1024 for softmax ...
  EXPECT_DOUBLE_EQ(at("softmax", 4096) - at("softmax", 2048), 3.0 * 4 * 4 * 256 * 1024);
  // ... and nothing for the chunked linear mixers once T >= chunk.
  for (const char* a : {"lightning", "hgrn2", "mamba2"}) {
    EXPECT_DOUBLE_EQ(at(a, 4096), at(a, 2048)) << a;
    EXPECT_LT(at(a, 32), at(a, 2048)) << a;
  }
}

}  // namespace
}  // namespace scalelab::spec
