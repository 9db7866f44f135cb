// Descriptor parsing, hybrid resolution and the exact error messages.
#include <gtest/gtest.h>

#include "models/mixers/mamba2/shape.h"
#include "models/spec/spec.h"

namespace scalelab::spec {
namespace {

const MixerKind S = mixer("softmax"), Li = mixer("lightning"), M = mixer("mamba2"),
                Hg = mixer("hgrn2");

TEST(Descriptor, ParsesEveryField) {
  const ModelSpec s = parse_descriptor("softmax:L32:d4096:h32:kv8:f11008:v32000:T2048:untied");
  EXPECT_EQ(s.arch, "softmax");
  EXPECT_EQ(s.n_layers, 32);
  EXPECT_EQ(s.d_model, 4096);
  EXPECT_EQ(s.n_heads, 32);
  EXPECT_EQ(s.kv_heads(), 8);
  EXPECT_EQ(s.ffn(), 11008);
  EXPECT_EQ(s.vocab, 32000);
  EXPECT_EQ(s.seq_len, 2048);
  EXPECT_FALSE(s.tie_embeddings);
  EXPECT_EQ(s.layers, std::vector<MixerKind>(32, S));
}

TEST(Descriptor, DefaultsAndDerivedFields) {
  const ModelSpec s = parse_descriptor("hgrn2:d96:h3");
  EXPECT_EQ(s.n_layers, 2);
  EXPECT_EQ(s.kv_heads(), 3);
  EXPECT_EQ(s.ffn(), 256);  // 8/3 * 96 = 256, already a multiple of 64
  EXPECT_EQ(parse_descriptor("softmax:d100:h2").ffn(), 320);  // 266.7 -> 320
  EXPECT_TRUE(s.tie_embeddings);
}

TEST(Descriptor, MambaFieldsAndCanonicalForm) {
  const ModelSpec s = parse_descriptor("mamba2:L3:d64:ds16:ex2:hd32:dc3");
  EXPECT_EQ(s.field("mamba_d_state"), 16);
  EXPECT_EQ(mixers::mamba2::heads(s), 4);
  EXPECT_EQ(s.field("mamba_conv"), 3);
  EXPECT_EQ(to_descriptor(s), "mamba2:L3:d64:h4:kv4:f192:v256:T256:tied:ds16:ex2:hd32:dc3");
}

TEST(Descriptor, CanonicalFormRoundTrips) {
  for (const char* d : {"softmax", "lightning:L4:d64:h2:untied", "hgrn2:L3:d96:h3:T17",
                        "mamba2:L2:d32:hd16:ds8", "hybrid(lightning,softmax@7:1):L16:d64:h4:kv2",
                        "hybrid( mamba2 , softmax@[11,5] ):L12:d64:h2:hd32"}) {
    SCOPED_TRACE(d);
    const ModelSpec s = parse_descriptor(d);
    const std::string canon = to_descriptor(s);
    EXPECT_EQ(parse_descriptor(canon), s);
    EXPECT_EQ(to_descriptor(parse_descriptor(canon)), canon);
  }
  EXPECT_EQ(to_descriptor(parse_descriptor("hybrid( mamba2 , softmax@[11,5] ):d64:L12:h2:hd32")),
            "hybrid(mamba2,softmax@[5,11]):L12:d64:h2:kv2:f192:v256:T256:tied:ds64:ex2:hd32:dc4");
}

TEST(Hybrid, RatioRepeats) {
  const ModelSpec s = parse_descriptor("hybrid(lightning,softmax@7:1):L16:d64:h4");
  std::vector<MixerKind> want(16, Li);
  want[7] = want[15] = S;
  EXPECT_EQ(s.layers, want);
  EXPECT_EQ(s.count(S), 2);
  EXPECT_EQ(parse_descriptor("hybrid(lightning,softmax@15:1):L16:d64:h4").count(S), 1);
  EXPECT_EQ(parse_descriptor("hybrid(softmax,hgrn2@1:2):L6:d64:h4").layers,
            (std::vector<MixerKind>{S, Hg, Hg, S, Hg, Hg}));
}

TEST(Hybrid, ExplicitIndicesAndSingleLayer) {
  const ModelSpec s = parse_descriptor("hybrid(mamba2,softmax@[5,11]):L12:d64:h2");
  std::vector<MixerKind> want(12, M);
  want[5] = want[11] = S;
  EXPECT_EQ(s.layers, want);
  const ModelSpec one = parse_descriptor("hybrid(lightning,softmax@[0]):L4:d64:h2");
  EXPECT_EQ(one.layers, (std::vector<MixerKind>{S, Li, Li, Li}));
}

TEST(Resolve, FromSheetColumns) {
  ModelSpec s;
  s.arch = "hybrid(lightning, softmax@3:1)";
  s.n_layers = 8;
  s.d_model = 64;
  s.n_heads = 4;
  resolve(s);
  EXPECT_EQ(s.arch, "hybrid(lightning,softmax@3:1)");
  EXPECT_EQ(s.layers[3], S);
  EXPECT_EQ(s.n_kv_heads, 4);
  EXPECT_EQ(s.d_ffn, 192);
}

// The error for DESCRIPTOR: its field and its exact text.
void expect_error(const std::string& descriptor, const std::string& field, const std::string& msg) {
  SCOPED_TRACE(descriptor);
  try {
    parse_descriptor(descriptor);
    ADD_FAILURE() << "no error";
  } catch (const SpecError& e) {
    EXPECT_EQ(e.field, field);
    EXPECT_EQ(std::string(e.what()), msg);
  }
}

TEST(Errors, BadDescriptorsNameTheField) {
  expect_error("", "arch", "model descriptor is empty");
  expect_error("gpt:L2", "arch",
               "unknown mixer 'gpt' (expected softmax, lightning, hgrn2, mamba2, swa, gdn or "
               "hybrid(A,B@pattern))");
  expect_error("softmax:L2:q3", "arch",
               "unknown field 'q3' in 'softmax:L2:q3' (expected L, d, h, kv, f, v, T, ds, ex, hd, "
               "dc, w, gk, gv, gc, tied or untied followed by a number)");
  expect_error("softmax:L2:L3", "layers", "field layers is given twice in 'softmax:L2:L3'");
  expect_error("softmax:L2:", "arch", "empty field in 'softmax:L2:'");
  expect_error("softmax:L0", "layers", "layers must be >= 1, got 0");
  expect_error("softmax:d99999999999", "d_model",
               "d_model value '99999999999' is not a non-negative integer in "
               "'softmax:d99999999999'");
  expect_error("softmax:d128:h5", "heads", "heads (5) must divide d_model (128)");
  expect_error("softmax:d128:h4:kv3", "kv_heads", "kv_heads (3) must divide heads (4)");
  expect_error("softmax:d96:h32", "heads",
               "softmax layers need an even head dim for RoPE; d_model/heads = 96/32 = 3");
  expect_error("lightning:d128:h4:kv2", "kv_heads",
               "kv_heads (2) differs from heads (4) but lightning has no softmax or swa layer");
  expect_error("softmax:ds16", "mamba_d_state",
               "mamba_d_state (16) applies to mamba2 layers only; softmax has none");
  expect_error("mamba2:d96:hd80", "mamba_head_dim",
               "mamba_head_dim (80) must divide the mamba2 inner width (expand 2 x d_model 96 = "
               "192)");
  expect_error("softmax:v0", "vocab", "vocab must be >= 1, got 0");
}

TEST(Errors, BadHybridPatterns) {
  expect_error("hybrid(lightning,softmax@7:1):L12", "arch",
               "hybrid ratio 7:1 repeats every 8 layers; layers (12) is not a multiple of 8");
  expect_error("hybrid(mamba2,softmax@[5,12]):L12", "arch",
               "hybrid layer index 12 is out of range: layers (12) allows 0..11");
  expect_error("hybrid(mamba2,softmax@[5,5]):L12", "arch", "hybrid layer index 5 is listed twice");
  expect_error("hybrid(mamba2,softmax@[]):L12", "arch", "hybrid index list is empty in '[]'");
  expect_error("hybrid(mamba2,softmax@[a]):L12", "arch",
               "hybrid layer index 'a' is not a non-negative integer");
  expect_error("hybrid(lightning,softmax@7-1):L8", "arch",
               "hybrid pattern '7-1' is neither a:b nor [i,j,...]");
  expect_error("hybrid(lightning,softmax@0:1):L8", "arch", "hybrid ratio 0:1 needs both counts >= 1");
  expect_error("hybrid(lightning,lightning@7:1):L8", "arch",
               "hybrid mixers must differ, got lightning twice");
  expect_error("hybrid(lightning,softmax):L8", "arch",
               "hybrid needs the form hybrid(A,B@a:b) or hybrid(A,B@[i,j,...]), got "
               "'hybrid(lightning,softmax)'");
  expect_error("hybrid(lightning,gla@7:1):L8", "arch",
               "unknown mixer 'gla' (expected softmax, lightning, hgrn2, mamba2, swa, gdn or "
               "hybrid(A,B@pattern))");
  expect_error("hybrid(lightning,softmax@7:1)x:L8", "arch",
               "unexpected 'x:L8' after hybrid(lightning,softmax@7:1)");
  expect_error("hybrid(lightning,softmax@7:1", "arch",
               "hybrid descriptor 'hybrid(lightning,softmax@7:1' must end with ')'");
}

}  // namespace
}  // namespace scalelab::spec
