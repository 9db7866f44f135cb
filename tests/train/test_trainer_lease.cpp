// A trainer whose lease was taken over (its heartbeat was late, another worker
// claimed the run) stops at its next write and writes nothing more.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include "tests/train/trainer_fixture.h"
#include "train/trainer.h"

using namespace scalelab;

TEST(TrainerLease, ALostLeaseStopsTrainingAndNothingMoreIsWritten) {
  scalelab::testing::Fixture fx;
  const std::string path = (fx.dir / "t.db").string();
  db::Database db(path);
  auto s = scalelab::testing::tiny_spec(fx.corpus, 40);
  s.eval_every = 1000;
  const db::Run run = scalelab::testing::insert(db, s);
  train::TrainOptions opt;
  opt.run_dir = (fx.dir / "run").string();
  opt.progress = false;
  opt.log_every = 1;
  opt.device = "cpu";
  int64_t taken_at = 0;
  opt.on_step = [&](int64_t step, double) {
    if (step != 10 || taken_at) return;
    // Another process finds the heartbeat stale and claims the run.
    db::Database other(path);
    other.raw().exec("UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00Z'");
    ASSERT_TRUE(other.claim_next_run("w2", 600));
    taken_at = step;
  };
  EXPECT_THROW(train::train_run(db, run, opt), db::LeaseLost);
  ASSERT_EQ(taken_at, 10);
  for (const db::Metric& m : db.metrics(run.id)) EXPECT_LT(m.step, 10) << "written after the takeover";
  EXPECT_EQ(db.get_run(run.id)->worker, "w2");
  EXPECT_EQ(db.get_run(run.id)->status, db::RunStatus::Running);
}
