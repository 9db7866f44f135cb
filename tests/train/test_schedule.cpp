#include <gtest/gtest.h>

#include <cmath>

#include "train/schedule.h"

using scalelab::spec::RunSpec;
using scalelab::train::lr_at;

namespace {
RunSpec spec_with(const std::string& schedule, int64_t steps, double warmup) {
  RunSpec s;
  s.model.seq_len = 16;
  s.batch_tokens = 16;
  s.tokens = 16 * steps;
  s.lr = 1e-3;
  s.min_lr_ratio = 0.1;
  s.warmup = warmup;
  s.schedule = schedule;
  return s;
}
}  // namespace

TEST(Schedule, WarmupIsLinearFromZero) {
  auto s = spec_with("cosine", 100, 10);
  EXPECT_EQ(s.warmup_steps(), 10);
  EXPECT_DOUBLE_EQ(lr_at(s, 0), 1e-4);
  EXPECT_DOUBLE_EQ(lr_at(s, 4), 5e-4);
  EXPECT_DOUBLE_EQ(lr_at(s, 9), 1e-3);
}

TEST(Schedule, CosineEndsAtTheFloorAndIsMonotone) {
  auto s = spec_with("cosine", 100, 0.1);
  EXPECT_EQ(s.warmup_steps(), 10);
  EXPECT_NEAR(lr_at(s, 99), 1e-4, 1e-12);
  // Halfway through the decay the cosine is at the midpoint.
  EXPECT_NEAR(lr_at(s, 54), 1e-4 + 0.5 * 9e-4, 1e-12);
  for (int i = 10; i < 99; ++i) EXPECT_GE(lr_at(s, i), lr_at(s, i + 1));
}

TEST(Schedule, WsdIsFlatThenDecaysLinearly) {
  auto s = spec_with("wsd", 100, 5);
  s.decay_fraction = 0.2;
  EXPECT_DOUBLE_EQ(lr_at(s, 50), 1e-3);
  EXPECT_DOUBLE_EQ(lr_at(s, 79), 1e-3);
  EXPECT_NEAR(lr_at(s, 89), 1e-3 - 0.5 * 9e-4, 1e-12);
  EXPECT_NEAR(lr_at(s, 99), 1e-4, 1e-12);
}

TEST(Schedule, ConstantAfterWarmup) {
  auto s = spec_with("constant", 50, 0);
  EXPECT_DOUBLE_EQ(lr_at(s, 0), 1e-3);
  EXPECT_DOUBLE_EQ(lr_at(s, 49), 1e-3);
}

// The decay shapes over the last 20 of 100 steps, at a quarter of the decay
// (step 84: p = 5/20) and at its end.
TEST(Schedule, WsdDecayShapes) {
  auto s = spec_with("wsd", 100, 5);
  const double peak = 1e-3, floor = 1e-4, p = 0.25;
  s.decay_shape = "linear";
  EXPECT_NEAR(lr_at(s, 84), floor + (peak - floor) * (1 - p), 1e-15);
  s.decay_shape = "cosine";
  EXPECT_NEAR(lr_at(s, 84), floor + (peak - floor) * 0.5 * (1 + std::cos(M_PI * p)), 1e-15);
  s.decay_shape = "1-sqrt";
  EXPECT_NEAR(lr_at(s, 84), floor + (peak - floor) * 0.5, 1e-15);
  for (const char* shape : {"linear", "cosine", "1-sqrt"}) {
    s.decay_shape = shape;
    EXPECT_DOUBLE_EQ(lr_at(s, 79), peak) << shape;
    EXPECT_NEAR(lr_at(s, 99), floor, 1e-15) << shape;
    for (int i = 80; i < 99; ++i) EXPECT_GT(lr_at(s, i), lr_at(s, i + 1)) << shape << " " << i;
  }
}

// Before its decay, a WSD run's lr does not depend on its length: what lets
// one stable phase serve every branch.
TEST(Schedule, WsdStablePhaseIndependentOfLength) {
  auto a = spec_with("wsd", 100, 5), b = spec_with("wsd", 40, 5);
  for (int i = 0; i < 32; ++i) EXPECT_DOUBLE_EQ(lr_at(a, i), lr_at(b, i)) << i;
  EXPECT_LT(lr_at(b, 32), lr_at(a, 32));
}
