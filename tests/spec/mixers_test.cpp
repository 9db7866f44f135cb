// The mixer registry and the mixers added on it (gdn, swa): every
// registered mixer parses and round-trips, fields and errors are generic, and
// the new mixers' counts against hand counts and a published configuration.
#include <gtest/gtest.h>

#include <set>

#include "models/spec/spec.h"

namespace scalelab::spec {
namespace {

TEST(Registry, EveryMixerParsesRoundTripsAndCounts) {
  std::set<std::string> names;
  for (MixerKind m : mixers()) {
    SCOPED_TRACE(m->name);
    EXPECT_TRUE(names.insert(m->name).second);
    EXPECT_EQ(find_mixer(m->name), m);
    const ModelSpec s = parse_descriptor(m->name + ":" + m->tiny);
    EXPECT_EQ(s.layers, std::vector<MixerKind>(s.n_layers, m));
    EXPECT_EQ(parse_descriptor(to_descriptor(s)), s);
    EXPECT_GT(mixer_params(s, m), 0);
    EXPECT_GT(train_flops_per_token(s), approx_flops_per_token(s) / 2);
    // Every field of the mixer is written out explicitly.
    for (const MixerField& f : m->fields)
      EXPECT_NE(to_descriptor(s).find(":" + f.key + std::to_string(s.field(f.id))),
                std::string::npos);
  }
  EXPECT_EQ(find_mixer("hybrid"), nullptr);
  EXPECT_EQ(mixers().front()->name, "softmax");
}

TEST(Registry, RejectsClashingDefinitions) {
  MixerDef d = *mixer("lightning");
  EXPECT_THROW(register_mixer(d), std::invalid_argument);  // name taken
  d.name = "clash";
  d.fields = {{"w", "clash_window", 4, 1}};  // swa's key
  EXPECT_THROW(register_mixer(d), std::invalid_argument);
  d.fields = {{"x2", "clash_x", 4, 1}};  // a key ending in a digit
  EXPECT_THROW(register_mixer(d), std::invalid_argument);
  d.fields = {{"cx", "heads", 4, 1}};  // a base column
  EXPECT_THROW(register_mixer(d), std::invalid_argument);
  EXPECT_EQ(find_mixer("clash"), nullptr);
}

TEST(Swa, DescriptorFieldAndErrors) {
  const ModelSpec s = parse_descriptor("swa:L2:d64:h4:kv2:w1024");
  EXPECT_EQ(s.field("swa_window"), 1024);
  EXPECT_EQ(to_descriptor(s), "swa:L2:d64:h4:kv2:f192:v256:T256:tied:w1024");
  EXPECT_EQ(parse_descriptor("swa:d64").field("swa_window"), 1024);  // Gemma 3's default
  auto error_of = [](const std::string& d) {
    try {
      parse_descriptor(d);
    } catch (const SpecError& e) {
      return e.field + ": " + e.what();
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of("swa:w0"), "swa_window: swa_window must be >= 1, got 0");
  EXPECT_EQ(error_of("softmax:w16"),
            "swa_window: swa_window (16) applies to swa layers only; softmax has none");
  EXPECT_EQ(error_of("swa:d96:h32"),
            "heads: swa layers need an even head dim for RoPE; d_model/heads = 96/32 = 3");
  EXPECT_EQ(error_of("gdn:d64:h6"),
            "heads: heads (6) must divide d_model (64) unless gdn_head_dim is given");
  EXPECT_EQ(error_of("gdn:d64:h4:gv0"), "gdn_expand_v: gdn_expand_v must be >= 1, got 0");
}

TEST(Hybrid, WithGdnAndSwa) {
  const MixerKind G = mixer("gdn"), S = mixer("softmax"), Li = mixer("lightning"), W = mixer("swa");
  const ModelSpec a = parse_descriptor("hybrid(gdn,softmax@3:1):L8:d64:h4");
  EXPECT_EQ(a.layers, (std::vector<MixerKind>{G, G, G, S, G, G, G, S}));
  EXPECT_EQ(to_descriptor(a),
            "hybrid(gdn,softmax@3:1):L8:d64:h4:kv4:f192:v256:T256:tied:gk16:gv2:gc4");
  const ModelSpec b = parse_descriptor("hybrid(lightning,swa@7:1):L16:d64:h4:kv2:w512");
  EXPECT_EQ(b.count(W), 2);
  EXPECT_EQ(b.count(Li), 14);
  EXPECT_EQ(count_params(b).non_embedding,
            14 * mixer_params(b, Li) + 2 * mixer_params(b, W) + 16 * (2 * 64 + 3 * 64 * 192) + 64);
}

TEST(Swa, ParamsAreSoftmaxsFlopsUseTheWindow) {
  const ModelSpec s = parse_descriptor("swa:L1:d64:h4:f128:v100:T100:w10");
  const ModelSpec full = parse_descriptor("softmax:L1:d64:h4:f128:v100:T100");
  EXPECT_EQ(count_params(s).total, count_params(full).total);
  // Window span: tokens 0..9 see 1..10 keys, the 90 others 10: (55 + 900)/100
  // = 9.55; attention 4 * 64 * 9.55; head 2*64*100; weights 2*(4*64^2 + 3*64*128).
  EXPECT_NEAR(train_flops_per_token(s), 3 * (12800 + 81920 + 4 * 64 * 9.55), 1e-6);
  // A window as long as the sequence is causal softmax attention.
  EXPECT_DOUBLE_EQ(train_flops_per_token(parse_descriptor("swa:L1:d64:h4:f128:v100:T100:w100")),
                   train_flops_per_token(full));
  // Past the window, FLOPs per token stop growing with T... almost: the first
  // w tokens see fewer keys, a share that shrinks as T grows.
  auto at = [](int t) {
    return train_flops_per_token(parse_descriptor("swa:L4:d256:h4:w512:T" + std::to_string(t)));
  };
  EXPECT_LT(at(8192) - at(4096), 3.0 * 4 * 4 * 256 * 20);
  EXPECT_GT(at(8192), at(4096));
}

// fla's GatedDeltaNet layer (fla/layers/gated_deltanet.py) at the defaults of
// fla's GatedDeltaNetConfig: hidden_size 2048, num_heads 6, head_dim 256,
// expand_v 2, conv_size 4, use_gate, use_short_conv, conv_bias False. From
// its __init__: key_dim = 6*256 = 1536, value_dim = 6*512 = 3072;
//   q_proj, k_proj  2 * 2048*1536          =  6,291,456
//   v_proj, g_proj  2 * 2048*3072          = 12,582,912
//   o_proj          3072*2048              =  6,291,456
//   a_proj, b_proj  2 * 2048*6             =     24,576
//   A_log, dt_bias  2 * 6                  =         12
//   q/k/v_conv1d    (1536+1536+3072) * 4   =     24,576   (depthwise, no bias)
//   o_norm          FusedRMSNormGated(512) =        512
//                                   total   25,215,500
TEST(Gdn, ParamsEqualFlaGatedDeltaNetLayer) {
  const ModelSpec s = parse_descriptor("gdn:L21:d2048:h6:gk256:gv2:gc4:f5632:v32000:untied");
  EXPECT_EQ(mixer_params(s, mixer("gdn")), 25'215'500);
  // The whole GatedDeltaNetForCausalLM of that config (21 layers, GatedMLP
  // intermediate 256 * ceil(int(2048*4*2/3) / 256) = 5632, two RMSNorms per
  // block, final norm, untied 32000-token embeddings): 1.39B.
  EXPECT_EQ(count_params(s).total,
            21 * (25'215'500 + 2 * 2048 + 3 * 2048 * 5632) + 2048 + 2 * 32000 * 2048);
  EXPECT_EQ(count_params(s).total, 1'387'348'732);
}

TEST(Gdn, DerivedHeadDimAndHandCounts) {
  const ModelSpec s = parse_descriptor("gdn:L1:d64:h4:f128:v100:T100");
  EXPECT_EQ(s.field("gdn_head_dim"), 16);  // d_model / heads, made explicit
  EXPECT_EQ(to_descriptor(s), "gdn:L1:d64:h4:kv4:f128:v100:T100:tied:gk16:gv2:gc4");
  // K 16, V 32: in_proj 64 x (2*64 + 128 + 128 + 2*4) = 64 x 392, conv 256 x 4,
  // o_proj 128 x 64; A_log, dt_bias 2*4; norm 32.
  const int64_t weights = 64 * 392 + 256 * 4 + 128 * 64;
  EXPECT_EQ(mixer_params(s, mixer("gdn")), weights + 8 + 32);
  // Mixing per head (spec.cpp): span c = (64*65/2 + 36*37/2)/100 = 27.46;
  // 2c(3K + 2V) + 6KV + solve, solve = (64*63*62/3 + 36*35*34/3)/100 = 976.08.
  const double mixing = 4 * (2 * 27.46 * (3 * 16 + 2 * 32) + 6 * 16 * 32 + 976.08);
  EXPECT_NEAR(train_flops_per_token(s), 3 * (12800 + 2 * (weights + 3 * 64 * 128) + mixing), 1e-6);
  // Like the other linear mixers, no growth with T past the chunk.
  auto at = [](int t) {
    return train_flops_per_token(parse_descriptor("gdn:L4:d256:h4:T" + std::to_string(t)));
  };
  EXPECT_DOUBLE_EQ(at(4096), at(2048));
  EXPECT_LT(at(32), at(2048));
}

}  // namespace
}  // namespace scalelab::spec
