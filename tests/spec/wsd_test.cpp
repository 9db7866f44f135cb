// WSD branch arithmetic and the identity of parents and branches.
#include <gtest/gtest.h>

#include "models/spec/run_spec.h"
#include "models/spec/wsd.h"

namespace scalelab::spec {
namespace {

RunSpec parent() {
  RunSpec r;
  r.model = parse_descriptor("softmax:L2:d32:h2:v256:T128");
  r.batch_tokens = 2048;
  r.tokens = 80 * 2048;
  r.schedule = "wsd";
  r.warmup = 0.1;  // 8 of the parent's 80 steps
  r.branches = {20 * 2048, 40 * 2048, 80 * 2048};
  return r;
}

TEST(Wsd, BranchPointsAreWhereEachBudgetsDecayStarts) {
  const RunSpec p = parent();
  const std::vector<BranchPoint> b = branch_points(p);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].steps, 20);
  EXPECT_EQ(b[0].step, 16);  // 20 - round(0.2 * 20)
  EXPECT_EQ(b[1].step, 32);
  EXPECT_EQ(b[2].step, 64);
  EXPECT_EQ(train_steps(p), 64);
  EXPECT_EQ(check_branches(p), "");
  const RunSpec br = branch_spec(p, "0123456789abcdef", b[0]);
  EXPECT_EQ(br.tokens, 20 * 2048);
  EXPECT_EQ(br.warmup, 8);  // the parent's warmup in steps, not 10% of 20 steps
  EXPECT_EQ(br.warmup_steps(), p.warmup_steps());
  EXPECT_EQ(wsd_decay_start(br), 16);
  EXPECT_EQ(start_step(br), 16);
  EXPECT_EQ(train_steps(br), 20);
  EXPECT_TRUE(br.branches.empty());
}

TEST(Wsd, BadBranchesSayWhy) {
  RunSpec p = parent();
  p.branches = {5 * 2048};
  EXPECT_NE(check_branches(p).find("warmup (8 steps) does not end by the first branch point (step 4)"),
            std::string::npos)
      << check_branches(p);
  p.branches = {100 * 2048};
  EXPECT_NE(check_branches(p).find("above the run's"), std::string::npos);
  p.branches = {20 * 2048, 20 * 2048 - 5};
  EXPECT_NE(check_branches(p).find("the same number of steps (20)"), std::string::npos);
  p.branches = {2048};
  EXPECT_NE(check_branches(p).find("no stable phase"), std::string::npos);
  p = parent();
  p.schedule = "cosine";
  EXPECT_NE(check_branches(p).find("need schedule wsd"), std::string::npos);
}

TEST(Wsd, LineageIsPartOfTheIdentityAndRoundTrips) {
  const RunSpec p = parent();
  const RunSpec a = branch_spec(p, run_id(p), branch_points(p)[0]);
  RunSpec twin = a;
  twin.branch_of.clear();
  twin.branch_step = 0;
  EXPECT_NE(run_id(a), run_id(twin));
  for (const RunSpec& r : {p, a, twin}) {
    EXPECT_EQ(canonical_json(r), to_json(r).dump());
    EXPECT_EQ(canonical_json(run_spec_from_json(to_json(r))), canonical_json(r));
  }
  RunSpec shaped = twin;
  shaped.decay_shape = "1-sqrt";
  EXPECT_EQ(canonical_json(shaped), to_json(shaped).dump());
  EXPECT_NE(canonical_json(shaped).find("\"decay_shape\":\"1-sqrt\""), std::string::npos);
  EXPECT_EQ(canonical_json(twin).find("decay_shape"), std::string::npos);  // default: unwritten
  nlohmann::json bad = to_json(shaped);
  bad["decay_shape"] = "square";
  EXPECT_THROW(run_spec_from_json(bad), SpecError);
}

}  // namespace
}  // namespace scalelab::spec
