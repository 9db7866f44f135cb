// WSD cooldown branches in the trainer: a branch that starts from its parent's
// checkpoint is, loss for loss, the WSD run trained straight through; and the
// lineage (parent, branch point, claimability) survives interruption and
// reopening the database.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

#include "db/db.h"
#include "db/lineage.h"
#include "models/spec/run_spec.h"
#include "models/spec/wsd.h"
#include "tests/train/trainer_fixture.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using namespace scalelab;

namespace {

constexpr int64_t kBatch = 8 * 32;

using scalelab::testing::Fixture;

// A parent of 20 steps with branches at 10 and 20 steps: decays of 2 and 4
// steps, branch points 8 and 16.
spec::RunSpec parent_spec(const std::string& data, const std::string& shape) {
  spec::RunSpec s = scalelab::testing::tiny_spec(data, 20);
  s.schedule = "wsd";
  s.decay_shape = shape;
  s.branches = {10 * kBatch, 20 * kBatch};
  s.eval_every = 4;
  s.seed = 5;
  return s;
}

std::string add(db::Database& db, const spec::RunSpec& s) { return scalelab::testing::add_run(db, s); }

struct Trained {
  train::TrainResult res;
  std::vector<db::Metric> metrics;
};

// Claims and trains run ID; STOP_AT > 0 interrupts it after that step.
Trained train(db::Database& db, const std::string& id, const fs::path& dir, int64_t stop_at = 0) {
  const auto lease = db.claim_run(id, "w");
  EXPECT_TRUE(lease) << id;
  train::TrainOptions opt;
  opt.run_dir = (dir / id).string();
  opt.progress = false;
  opt.device = "cpu";
  opt.log_every = 1;
  opt.checkpoint_every_s = 1e9;
  std::atomic<bool> stop{false};
  opt.stop = &stop;
  opt.on_step = [&](int64_t step, double) {
    if (step == stop_at) stop = true;
  };
  Trained t;
  t.res = train::train_run(db, *db.get_run(id), opt);
  if (t.res.outcome == train::Outcome::Done) db.finish_run(*lease, t.res.final_val_loss, "{}");
  if (t.res.outcome == train::Outcome::Interrupted) db.release_run(*lease);
  t.metrics = db.metrics(id);
  return t;
}

// The straight-through twin of a branch: the same spec without its lineage.
spec::RunSpec straight(spec::RunSpec b) {
  b.branch_of.clear();
  b.branch_step = 0;
  return b;
}

void expect_same_losses(const std::vector<db::Metric>& branch, const std::vector<db::Metric>& ref) {
  ASSERT_FALSE(branch.empty());
  for (const db::Metric& m : branch) {
    const auto it = std::find_if(ref.begin(), ref.end(),
                                 [&](const db::Metric& r) { return r.step == m.step; });
    ASSERT_NE(it, ref.end()) << m.step;
    EXPECT_EQ(m.tokens, it->tokens);
    EXPECT_DOUBLE_EQ(*m.train_loss, *it->train_loss) << "step " << m.step;
    EXPECT_DOUBLE_EQ(*m.lr, *it->lr) << "step " << m.step;
    if (m.val_loss && it->val_loss) {
      EXPECT_DOUBLE_EQ(*m.val_loss, *it->val_loss) << m.step;
    }
  }
}

class BranchShapes : public ::testing::TestWithParam<const char*> {};

TEST_P(BranchShapes, BranchEqualsTheRunTrainedStraightThrough) {
  Fixture fx;
  db::Database db(":memory:");
  const spec::RunSpec p = parent_spec(fx.corpus, GetParam());
  const std::string pid = add(db, p);
  const auto points = spec::branch_points(p);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].step, 8);
  EXPECT_EQ(points[1].step, 16);
  const spec::RunSpec late = spec::branch_spec(p, pid, points[1]);
  const std::string bid = add(db, late);
  EXPECT_FALSE(db.claim_run(bid, "early")) << "claimable before its parent checkpointed";

  const Trained parent = train(db, pid, fx.dir);
  ASSERT_EQ(parent.res.outcome, train::Outcome::Done) << parent.res.error;
  EXPECT_EQ(parent.metrics.back().step, 16);  // the stable phase only
  EXPECT_TRUE(fs::exists(fx.dir / pid / "branch-8.pt"));
  ASSERT_TRUE(db::branch_point(db, pid, 16));
  const Trained branch = train(db, bid, fx.dir);
  ASSERT_EQ(branch.res.outcome, train::Outcome::Done) << branch.res.error;
  EXPECT_EQ(branch.metrics.front().step, 17);
  EXPECT_EQ(branch.metrics.back().step, 20);

  db::Database ref_db(":memory:");
  const Trained ref = train(ref_db, add(ref_db, straight(late)), fx.dir / "ref");
  ASSERT_EQ(ref.res.outcome, train::Outcome::Done);
  expect_same_losses(parent.metrics, ref.metrics);  // stable phase: the same steps
  expect_same_losses(branch.metrics, ref.metrics);  // cooldown: the same steps
  EXPECT_DOUBLE_EQ(branch.res.final_val_loss, ref.res.final_val_loss);
  EXPECT_LT(*branch.metrics.back().lr, *parent.metrics.back().lr);
}

INSTANTIATE_TEST_SUITE_P(Shapes, BranchShapes, ::testing::Values("linear", "1-sqrt"));

// Parent interrupted after its first branch point, that branch interrupted in
// its cooldown, the database closed and reopened between every step: each
// resumes where it stopped and every branch still equals its straight run.
TEST(Branches, LineageSurvivesInterruptionAndReopening) {
  Fixture fx;
  const std::string path = (fx.dir / "sweep.db").string();
  const spec::RunSpec p = parent_spec(fx.corpus, "linear");
  std::string pid, early, late;
  {
    db::Database db(path);
    pid = add(db, p);
    const auto points = spec::branch_points(p);
    early = add(db, spec::branch_spec(p, pid, points[0]));
    late = add(db, spec::branch_spec(p, pid, points[1]));
    EXPECT_EQ(db::waiting_branches(db), 0);  // nobody trains the parent yet
    const Trained t = train(db, pid, fx.dir, 11);
    ASSERT_EQ(t.res.outcome, train::Outcome::Interrupted);
  }
  std::vector<db::Metric> early_losses;
  {
    db::Database db(path);
    const std::vector<db::Lineage> ls = db::lineages(db);
    ASSERT_EQ(ls.size(), 3u);
    for (const db::Lineage& l : ls) {
      EXPECT_EQ(l.is_parent, l.id == pid) << l.id;
      EXPECT_EQ(l.parent_id, l.id == pid ? "" : pid) << l.id;
      EXPECT_EQ(l.branch_step, l.id == early ? 8 : l.id == late ? 16 : 0) << l.id;
    }
    EXPECT_EQ(db::waiting_branches(db), 1);  // the early one: its point is there
    const auto next = db.claim_next_run("any worker");
    ASSERT_TRUE(next);
    EXPECT_NE(next->id, late) << "the late branch has no checkpoint to start from yet";
    db.release_run({next->id, next->lease});
    ASSERT_EQ(train(db, early, fx.dir, 9).res.outcome, train::Outcome::Interrupted);
  }
  {
    db::Database db(path);
    ASSERT_TRUE(fs::exists(fx.dir / early / "checkpoint.pt"));  // its own, at step 9
    const Trained e = train(db, early, fx.dir);
    ASSERT_EQ(e.res.outcome, train::Outcome::Done) << e.res.error;
    EXPECT_EQ(db.get_run(early)->status, db::RunStatus::Done);
    early_losses = e.metrics;
    EXPECT_EQ(db.get_run(pid)->status, db::RunStatus::Pending);
    ASSERT_EQ(train(db, pid, fx.dir).res.outcome, train::Outcome::Done);
    const Trained l = train(db, late, fx.dir);
    ASSERT_EQ(l.res.outcome, train::Outcome::Done) << l.res.error;
    db::Database ref_db(":memory:");
    expect_same_losses(l.metrics, train(ref_db, add(ref_db, straight(spec::branch_spec(
                                                                p, pid, spec::branch_points(p)[1]))),
                                        fx.dir / "ref_late").metrics);
  }
  db::Database ref_db(":memory:");
  const spec::RunSpec e = straight(spec::branch_spec(p, pid, spec::branch_points(p)[0]));
  expect_same_losses(early_losses, train(ref_db, add(ref_db, e), fx.dir / "ref_early").metrics);
}

TEST(Branches, ABranchWithoutItsParentsCheckpointIsAClearError) {
  Fixture fx;
  db::Database db(":memory:");
  const spec::RunSpec p = parent_spec(fx.corpus, "linear");
  const std::string pid = add(db, p);
  const std::string bid = add(db, spec::branch_spec(p, pid, spec::branch_points(p)[0]));
  db::record_branch_point(db, {pid, 8, 8 * kBatch, (fx.dir / "gone.pt").string(), ""});
  ASSERT_TRUE(db.claim_run(bid, "w"));
  train::TrainOptions opt;
  opt.run_dir = (fx.dir / bid).string();
  opt.progress = false;
  try {
    train::train_run(db, *db.get_run(bid), opt);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("gone.pt is missing"), std::string::npos) << e.what();
  }
}

}  // namespace
