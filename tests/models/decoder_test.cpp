// The module matches the spec's accounting, and every architecture is causal.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <limits>

#include "models/mixers/lightning/module.h"
#include "tests/models/test_util.h"

namespace scalelab::models {
namespace {

using testing::make_model;
using testing::max_abs_diff;
using testing::random_tokens;

int64_t numel_of(const Decoder& m, const std::string& prefix) {
  int64_t n = 0;
  for (const auto& p : m->named_parameters())
    if (p.key().rfind(prefix, 0) == 0) n += p.value().numel();
  return n;
}

TEST(Decoder, ParameterCountEqualsSpec) {
  std::vector<std::string> descriptors = {
      "softmax:L2:d32:h4:v64",
      "softmax:L3:d64:h8:kv2:f96:v100:untied",
      "softmax:L1:d48:h4:kv1:v50:tied",
      "lightning:L3:d64:h4:v100:untied",
      "lightning:L2:d96:h6:f128:v30",
      "hgrn2:L3:d64:h2:v100",
      "hgrn2:L2:d96:h3:f64:v30:untied",
      "mamba2:L2:d32:v64:ds8:hd16",
      "mamba2:L3:d64:v100:ds16:ex3:hd48:dc3:untied",
      "hybrid(lightning,softmax@7:1):L8:d32:h4:kv2:v64",
      "hybrid(lightning,softmax@3:1):L8:d64:h4:v64:untied",
      "hybrid(mamba2,softmax@[1,4]):L6:d32:h2:v64:ds8:hd16",
      "hybrid(hgrn2,softmax@[0]):L4:d32:h4:v64",
      "hybrid(softmax,hgrn2@1:1):L4:d32:h4:kv4:v64",
      "hybrid(mamba2,lightning@2:1):L3:d32:h4:v64:ds8:hd16",
      "gdn:L2:d64:h2:gk16:gv3:gc3:v100:untied",
      "gdn:L2:d96:h6:gk8:gv1:gc1:v30",
      "swa:L2:d64:h4:kv2:w8:v100",
      "hybrid(gdn,softmax@3:1):L8:d64:h4:kv2:v64",
      "hybrid(lightning,swa@7:1):L8:d32:h4:v64:w16",
      "hybrid(hgrn2,gdn@1:1):L4:d32:h4:v64",
  };
  // And every registered mixer's tiny model.
  for (const auto& d : testing::tiny_archs()) descriptors.push_back(d);
  for (const auto& d : descriptors) {
    SCOPED_TRACE(d);
    const spec::ModelSpec s = spec::parse_descriptor(d);
    Decoder m(s);
    const spec::ParamCount want = spec::count_params(s);
    int64_t total = 0;
    for (const auto& p : m->parameters()) total += p.numel();
    EXPECT_EQ(total, want.total);
    EXPECT_EQ(numel_of(m, "embed.") + numel_of(m, "head."), want.embedding);
    for (int i = 0; i < s.n_layers; ++i) {
      EXPECT_EQ(numel_of(m, "layers." + std::to_string(i) + ".mixer."),
                spec::mixer_params(s, s.layers[i]))
          << "layer " << i;
    }
  }
}

TEST(Decoder, LogitsShapeAndDeterministicInit) {
  auto a = make_model("softmax:L2:d32:h4:v64", 7), b = make_model("softmax:L2:d32:h4:v64", 7);
  auto c = make_model("softmax:L2:d32:h4:v64", 8);
  auto tokens = random_tokens(2, 5, 64, 1);
  auto la = a->forward(tokens);
  EXPECT_EQ(la.sizes(), torch::IntArrayRef({2, 5, 64}));
  EXPECT_EQ(la.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(la, b->forward(tokens)));
  EXPECT_GT(max_abs_diff(la, c->forward(tokens)), 1e-3);
}

// Linear and Embedding leave their weights unset: init_weights must write
// every parameter of every architecture, or a run would train from garbage.
TEST(Decoder, InitWeightsWritesEveryParameter) {
  at::set_num_threads(1);
  for (const std::string& arch : testing::tiny_archs()) {
    Decoder m(spec::parse_descriptor(arch));
    {
      torch::NoGradGuard no_grad;
      for (auto& p : m->parameters()) p.fill_(std::numeric_limits<float>::quiet_NaN());
    }
    m->init_weights(3);
    for (const auto& p : m->named_parameters())
      EXPECT_TRUE(torch::isfinite(p.value()).all().item<bool>()) << arch << " " << p.key();
  }
}

// Drawing into a contiguous fp32 parameter in place gives the values a fresh
// tensor's draw gave (the seeded weights of every earlier run); a strided
// view takes the copying path and gets them too.
TEST(Init, InPlaceDrawsEqualFreshDraws) {
  for (int64_t n : {7, 16, 37, 4096}) {
    Init init(11, 2);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
    auto p = torch::empty({n}), q = torch::empty({n}).uniform_(0, 1);
    init.normal(p, 0.5);
    init.uniform(q, -2, 3);
    auto want_p = at::normal(0.0, 0.5, {n}, gen, torch::dtype(torch::kFloat32));
    auto want_q = torch::empty({n}).uniform_(-2, 3, gen);
    EXPECT_TRUE(torch::equal(p, want_p)) << n;
    EXPECT_TRUE(torch::equal(q, want_q)) << n;
  }
  Init init(5, 2);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  auto m = torch::zeros({6, 8});
  auto col = m.narrow(1, 2, 3);  // not contiguous
  init.normal(col, 1.0);
  EXPECT_TRUE(torch::equal(col, at::normal(0.0, 1.0, {6, 3}, gen, torch::dtype(torch::kFloat32))));
  EXPECT_EQ(m.narrow(1, 0, 2).abs().sum().item<float>(), 0.0f);
}

TEST(Decoder, TiedHeadSharesTheEmbedding) {
  auto m = make_model("softmax:L1:d32:h4:v64:tied");
  for (const auto& p : m->named_parameters()) EXPECT_EQ(p.key().rfind("head", 0), std::string::npos);
  auto u = make_model("softmax:L1:d32:h4:v64:untied");
  EXPECT_EQ(numel_of(u, "head."), 64 * 32);
}

// Changing token P must leave every logit before P unchanged and change some
// after it; T = 70 crosses the linear mixers' 64-token chunk boundary.
TEST(Decoder, EveryArchitectureIsCausal) {
  torch::NoGradGuard no_grad;
  for (const auto& d : testing::tiny_archs()) {
    SCOPED_TRACE(d);
    auto m = make_model(d, 3);
    auto tokens = random_tokens(2, 70, 64, 5);
    for (int64_t p : {0, 37, 66}) {
      auto changed = tokens.clone();
      changed.select(1, p).add_(1).remainder_(64);
      auto a = m->forward(tokens), b = m->forward(changed);
      if (p > 0) EXPECT_LT(max_abs_diff(a.narrow(1, 0, p), b.narrow(1, 0, p)), 1e-6) << "p " << p;
      EXPECT_GT(max_abs_diff(a.narrow(1, p, 70 - p), b.narrow(1, p, 70 - p)), 1e-4) << "p " << p;
    }
  }
}

TEST(Lightning, DecayRatesAsPublished) {
  // ALiBi slopes: 2^(-8i/n) for n a power of two; n = 6 takes the 4-head
  // slopes then every other 8-head slope (Press et al.'s get_slopes).
  EXPECT_EQ(alibi_slopes(8), (std::vector<double>{0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625,
                                                  0.0078125, 0.00390625}));
  EXPECT_EQ(alibi_slopes(6),
            (std::vector<double>{0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125}));
  // Layer l of L scales them by 1 - l/(L-1) + 1e-5 (MiniMax-01).
  auto first = lightning_decay_rates(4, 0, 5), last = lightning_decay_rates(4, 4, 5);
  EXPECT_NEAR(first[0], 0.25 * (1 + 1e-5), 1e-15);
  EXPECT_NEAR(last[0], 0.25 * 1e-5, 1e-15);
  EXPECT_NEAR(lightning_decay_rates(4, 2, 5)[3], std::pow(2.0, -8) * (0.5 + 1e-5), 1e-15);
}

}  // namespace
}  // namespace scalelab::models
