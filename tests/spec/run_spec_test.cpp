// The canonical JSON of a RunSpec is its identity: the direct writer must give
// exactly nlohmann's bytes (the stored form before it), and ids must not move.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "models/spec/run_spec.h"

namespace scalelab::spec {
namespace {

RunSpec sample() {
  RunSpec r;
  r.model = parse_descriptor("softmax:L4:d256:h4:v32000:T512");
  r.tokens = 123456789;
  r.batch_tokens = 65536;
  r.seed = 7;
  return r;
}

TEST(CanonicalJson, EqualsNlohmannDump) {
  RunSpec r = sample();
  EXPECT_EQ(canonical_json(r), to_json(r).dump());
  EXPECT_EQ(run_id(r), run_id_of_canonical(to_json(r).dump()));
}

TEST(CanonicalJson, RealsFormattedLikeNlohmann) {
  // Integers as reals, tiny and huge exponents, values Grisu and Ryu may print
  // differently, and the edges of nlohmann's fixed/exponent switch.
  const double values[] = {0.0,   1.0,    3.0,     0.1,      1e-3,    1e-4,    1e-5,
                           1.5e-5, 2.5e-4, 1e15,    1e16,     123456789012345.0,
                           5e-324, 1.7976931348623157e308, 0.30000000000000004,
                           9007199254740993.0, -0.0, 6.02214076e23, 0.95, 0.999};
  RunSpec r = sample();
  for (double v : values) {
    r.lr = v;
    r.warmup = v;
    r.beta2 = v;
    EXPECT_EQ(canonical_json(r), to_json(r).dump()) << v;
  }
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> exp10(-12, 12);
  for (int i = 0; i < 5000; ++i) {
    r.lr = std::pow(10.0, exp10(rng));
    r.weight_decay = static_cast<double>(rng() % 1000) / 997.0;
    ASSERT_EQ(canonical_json(r), to_json(r).dump()) << r.lr;
  }
}

TEST(CanonicalJson, StringsEscapedLikeNlohmann) {
  RunSpec r = sample();
  for (const char* data : {"builtin:kjv", "/data/a \"quoted\" name.txt", "C:\\corpus\\x.txt",
                           "tab\there", "line\nbreak", "\x01\x1f", "caf\xc3\xa9 \xe2\x82\xac.txt"}) {
    r.data = data;
    EXPECT_EQ(canonical_json(r), to_json(r).dump()) << data;
  }
}

TEST(CanonicalJson, IntegerExtremes) {
  RunSpec r = sample();
  r.seed = std::numeric_limits<uint64_t>::max();
  r.tokens = std::numeric_limits<int64_t>::max();
  r.eval_every = 0;
  EXPECT_EQ(canonical_json(r), to_json(r).dump());
}

TEST(CanonicalJson, IdIsStable) {
  // Pinned: a changed id would make every existing database re-plan its runs.
  EXPECT_EQ(canonical_json(sample()),
            R"({"batch_tokens":65536,"beta1":0.9,"beta2":0.95,"data":"builtin:kjv",)"
            R"("decay_fraction":0.2,"eval_every":0,"eval_tokens":65536,"grad_clip":1.0,)"
            R"("lr":0.003,"min_lr_ratio":0.1,"model":")" +
                to_descriptor(sample().model) +
                R"(","schedule":"cosine","seed":7,"tokens":123456789,"warmup":0.05,)"
                R"("weight_decay":0.1})");
  EXPECT_EQ(to_descriptor(sample().model), "softmax:L4:d256:h4:kv4:f704:v32000:T512:tied");
  EXPECT_EQ(run_id(sample()), "4c0fde4cb033626a");
}

TEST(CanonicalJson, MqarTaskFieldsOnlyWhenNotLm) {
  RunSpec r = sample();
  EXPECT_EQ(canonical_json(r).find("task"), std::string::npos);
  r.model = parse_descriptor("softmax:L2:d64:h2:v65:T64");
  r.task = "mqar";
  r.mqar_pairs = 8;
  r.data = "mqar";
  EXPECT_EQ(canonical_json(r), to_json(r).dump());
  EXPECT_NE(canonical_json(r).find(R"("task":"mqar")"), std::string::npos);
  const RunSpec back = run_spec_from_json(to_json(r));
  EXPECT_EQ(back.task, "mqar");
  EXPECT_EQ(back.mqar_pairs, 8);
  EXPECT_EQ(canonical_json(back), canonical_json(r));
}

TEST(CanonicalJson, MqarPairsMustFit) {
  RunSpec r = sample();
  r.model = parse_descriptor("softmax:L2:d64:h2:v65:T64");
  r.task = "mqar";
  r.mqar_pairs = 17;  // 4 x 17 > 64
  try {
    run_spec_from_json(to_json(r));
    FAIL() << "17 pairs fit in 64 tokens?";
  } catch (const SpecError& e) {
    EXPECT_EQ(e.field, "mqar_pairs");
  }
  r.mqar_pairs = 16;
  r.model.vocab = 32;  // 16 keys + 16 values + padding need 33
  try {
    run_spec_from_json(to_json(r));
    FAIL() << "vocab 32 holds 16 keys, 16 values and padding?";
  } catch (const SpecError& e) {
    EXPECT_EQ(e.field, "vocab");
  }
  r.task = "lmx";
  EXPECT_THROW(run_spec_from_json(to_json(r)), SpecError);
}

}  // namespace
}  // namespace scalelab::spec
