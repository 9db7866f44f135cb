#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "db/db.h"
#include "tests/common/temp_dir.h"
#include "models/spec/run_spec.h"
#include "train/trainer.h"
#include "tests/train/trainer_fixture.h"

namespace fs = std::filesystem;
using namespace scalelab;
using scalelab::testing::Fixture;
using scalelab::testing::insert;
using scalelab::testing::tiny_spec;

TEST(Trainer, LossDecreasesAndMetricsAreLogged) {
  Fixture fx;
  db::Database db(":memory:");
  auto run = insert(db, tiny_spec(fx.corpus, 30));
  train::TrainOptions opt;
  opt.run_dir = (fx.dir / "run").string();
  opt.progress = false;
  opt.device = "cpu";
  auto res = train::train_run(db, run, opt);
  ASSERT_EQ(res.outcome, train::Outcome::Done) << res.error;
  auto m = db.metrics(run.id);
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m.back().step, 30);
  EXPECT_EQ(m.back().tokens, 30 * 256);
  ASSERT_TRUE(m.front().val_loss || m[4].val_loss);
  EXPECT_LT(*m.back().train_loss, *m.front().train_loss - 0.5);
  EXPECT_LT(res.final_val_loss, 5.5);  // byte-level uniform is ln 256 = 5.55
  EXPECT_TRUE(fs::exists(fx.dir / "run" / "model.pt"));
  EXPECT_FALSE(fs::exists(fx.dir / "run" / "checkpoint.pt"));
  EXPECT_NE(res.env_json.find("code_version"), std::string::npos);
}

// A run stopped half-way and resumed from its checkpoint logs exactly the
// losses of a run that was never stopped.
TEST(Trainer, ResumeEqualsUninterrupted) {
  Fixture fx;
  const auto s = tiny_spec(fx.corpus, 20);
  std::vector<db::Metric> straight, resumed;
  {
    db::Database db(":memory:");
    auto run = insert(db, s);
    train::TrainOptions opt;
    opt.run_dir = (fx.dir / "a").string();
    opt.progress = false;
    opt.log_every = 1;
    ASSERT_EQ(train::train_run(db, run, opt).outcome, train::Outcome::Done);
    straight = db.metrics(run.id);
  }
  {
    db::Database db(":memory:");
    auto run = insert(db, s);
    train::TrainOptions opt;
    opt.run_dir = (fx.dir / "b").string();
    opt.progress = false;
    opt.log_every = 1;
    opt.checkpoint_every_s = 1e9;
    // As a SIGTERM after step 8 would.
    std::atomic<bool> stop{false};
    opt.stop = &stop;
    opt.on_step = [&stop](int64_t step, double) {
      if (step == 8) stop = true;
    };
    auto r1 = train::train_run(db, run, opt);
    ASSERT_EQ(r1.outcome, train::Outcome::Interrupted);
    EXPECT_EQ(r1.steps_done, 8);
    ASSERT_TRUE(fs::exists(fx.dir / "b" / "checkpoint.pt"));
    stop = false;
    opt.on_step = nullptr;
    auto r2 = train::train_run(db, run, opt);
    ASSERT_EQ(r2.outcome, train::Outcome::Done) << r2.error;
    resumed = db.metrics(run.id);
  }
  ASSERT_EQ(straight.size(), resumed.size());
  for (size_t i = 0; i < straight.size(); ++i) {
    EXPECT_EQ(straight[i].step, resumed[i].step);
    EXPECT_DOUBLE_EQ(*straight[i].train_loss, *resumed[i].train_loss) << "step " << straight[i].step;
  }
}

TEST(Trainer, NonFiniteLossFailsWithTheStepAndIsRecorded) {
  Fixture fx;
  db::Database db(":memory:");
  auto s = tiny_spec(fx.corpus, 10);
  s.lr = 1e30;
  s.warmup = 0;
  s.grad_clip = 1e30;
  auto run = insert(db, s);
  train::TrainOptions opt;
  opt.run_dir = (fx.dir / "nan").string();
  opt.progress = false;
  auto res = train::train_run(db, run, opt);
  ASSERT_EQ(res.outcome, train::Outcome::Diverged);
  EXPECT_NE(res.error.find("non-finite training loss"), std::string::npos) << res.error;
  auto m = db.metrics(run.id);
  ASSERT_FALSE(m.empty());
  EXPECT_FALSE(std::isfinite(*m.back().train_loss));
}

TEST(Trainer, CorruptCheckpointIsAClearError) {
  Fixture fx;
  db::Database db(":memory:");
  auto run = insert(db, tiny_spec(fx.corpus, 4));
  fs::create_directories(fx.dir / "c");
  std::ofstream(fx.dir / "c" / "checkpoint.pt") << "not a checkpoint";
  train::TrainOptions opt;
  opt.run_dir = (fx.dir / "c").string();
  opt.progress = false;
  try {
    train::train_run(db, run, opt);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("checkpoint.pt' is unusable"), std::string::npos) << w;
  }
}
