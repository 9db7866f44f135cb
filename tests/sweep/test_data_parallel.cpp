// Which runs a local scheduler trains data-parallel, and on which GPUs
// (sweep/scheduler.h): large runs (by the planner's memory estimate) on the
// idle GPUs, as many as divide the batch; small runs never.
#include <gtest/gtest.h>

#include "sweep/scheduler.h"

using scalelab::sweep::data_parallel_group;
using scalelab::sweep::GpuLoad;

namespace {
constexpr double kGb = 1e9;
const std::vector<GpuLoad> kFourIdle(4, GpuLoad{80 * kGb, 0});
}  // namespace

TEST(DataParallel, SmallRunsStayOnOneGpu) {
  EXPECT_TRUE(data_parallel_group(kFourIdle, 0, 30 * kGb, 64, 0.5, 0).empty());
  EXPECT_TRUE(data_parallel_group(kFourIdle, 0, 40 * kGb, 64, 0.5, 0).empty());  // not above
}

TEST(DataParallel, LargeRunsTakeTheIdleGpusThatDivideTheBatch) {
  EXPECT_EQ(data_parallel_group(kFourIdle, 2, 50 * kGb, 64, 0.5, 0), (std::vector<int>{2, 0, 1, 3}));
  EXPECT_EQ(data_parallel_group(kFourIdle, 0, 50 * kGb, 64, 0.5, 2), (std::vector<int>{0, 1}));
  // 6 sequences: 4 GPUs do not divide them, 3 do.
  EXPECT_EQ(data_parallel_group(kFourIdle, 0, 50 * kGb, 6, 0.5, 0), (std::vector<int>{0, 1, 2}));
  // A batch of 1 sequence cannot be split.
  EXPECT_TRUE(data_parallel_group(kFourIdle, 0, 50 * kGb, 1, 0.5, 0).empty());
}

TEST(DataParallel, BusyOrSmallerGpusAreLeftOut) {
  std::vector<GpuLoad> g = kFourIdle;
  g[1].runs = 1;               // busy
  g[3].capacity = 40 * kGb;    // cannot hold the run
  EXPECT_EQ(data_parallel_group(g, 0, 50 * kGb, 64, 0.5, 0), (std::vector<int>{0, 2}));
  g[2].runs = 2;
  EXPECT_TRUE(data_parallel_group(g, 0, 50 * kGb, 64, 0.5, 0).empty());  // one idle GPU
  g[0].runs = 1;               // the first GPU itself is busy
  EXPECT_TRUE(data_parallel_group(kFourIdle, 0, 50 * kGb, 64, 0, 0).empty());  // off
  EXPECT_TRUE(data_parallel_group(g, 0, 50 * kGb, 64, 0.5, 0).empty());
}
