// Writing plans to the database: idempotent re-plans, added rows, removed rows
// reported (never deleted), --prune, on a file database and on :memory:.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <unistd.h>

#include "sweep/apply.h"

namespace sw = scalelab::sweep;
namespace db = scalelab::db;
namespace fs = std::filesystem;

namespace {
sw::Plan plan(const std::string& text) {
  return sw::plan_sheet(sw::parse_sheet(text, "grid.csv", ','));
}
const std::string kTwoRows =
    "name,arch,d_model,tokens,seed\n"
    "a,softmax|lightning,64,1M,0|1\n"
    "b,mamba2,64,1M,0\n";
const std::string kRowBRemoved =
    "name,arch,d_model,tokens,seed\n"
    "a,softmax|lightning,64,1M,0|1\n";
const std::string kRowCAdded = kTwoRows + "c,hgrn2,64,2M,0\n";

class Apply : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(test.begin(), test.end(), '/', '_');
      path_ = (fs::temp_directory_path() /
               ("sweep_apply_" + std::to_string(::getpid()) + "_" + test + ".db"))
                  .string();
      for (auto* x : {"", "-wal", "-shm"}) fs::remove(path_ + x);
    } else {
      path_ = ":memory:";
    }
    db_ = std::make_unique<db::Database>(path_);
  }
  void TearDown() override {
    db_.reset();
    if (path_ != ":memory:")
      for (auto* x : {"", "-wal", "-shm"}) fs::remove(path_ + x);
  }
  std::string path_;
  std::unique_ptr<db::Database> db_;
};
}  // namespace

TEST_P(Apply, ReplanningIsANoOp) {
  const sw::Plan p = plan(kTwoRows);
  const sw::ApplyResult first = sw::write_plan(*db_, p, false);
  EXPECT_EQ(first.added.size(), 5u);
  EXPECT_EQ(first.existing, 0u);
  const sw::ApplyResult again = sw::write_plan(*db_, plan(kTwoRows), false);
  EXPECT_TRUE(again.added.empty());
  EXPECT_EQ(again.existing, 5u);
  EXPECT_TRUE(again.removed.empty());
  const auto runs = db_->list_runs();
  ASSERT_EQ(runs.size(), 5u);
  for (const auto& r : runs) {
    EXPECT_EQ(r.status, db::RunStatus::Pending);
    EXPECT_EQ(r.sweep, "grid");
  }
  const auto stored = db_->get_run(p.runs[0].row.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->spec_json, p.runs[0].row.spec_json);
  EXPECT_EQ(stored->params, p.runs[0].row.params);
  EXPECT_EQ(stored->flops, p.runs[0].row.flops);
}

TEST_P(Apply, AddingARowAddsOnlyItsRuns) {
  sw::write_plan(*db_, plan(kTwoRows), false);
  const sw::Plan p = plan(kRowCAdded);
  const sw::ApplyResult res = sw::write_plan(*db_, p, false);
  ASSERT_EQ(res.added.size(), 1u);
  EXPECT_EQ(res.added[0], p.runs.back().row.id);
  EXPECT_EQ(res.existing, 5u);
  EXPECT_EQ(db_->list_runs().size(), 6u);
}

TEST_P(Apply, RemovedRowIsReportedAndKept) {
  const sw::Plan full = plan(kTwoRows);
  sw::write_plan(*db_, full, false);
  const sw::ApplyResult res = sw::write_plan(*db_, plan(kRowBRemoved), false);
  ASSERT_EQ(res.removed.size(), 1u);
  EXPECT_EQ(res.removed[0].name, "b");
  EXPECT_EQ(res.removed[0].id, full.runs.back().row.id);
  EXPECT_TRUE(res.cancelled.empty());
  EXPECT_EQ(db_->list_runs().size(), 5u);
  EXPECT_EQ(db_->get_run(res.removed[0].id)->status, db::RunStatus::Pending);
}

TEST_P(Apply, PruneCancelsOnlyPendingRemovedRuns) {
  const sw::Plan full = plan(kRowCAdded);
  sw::write_plan(*db_, full, false);
  const std::string b = full.runs[4].row.id, c = full.runs[5].row.id;
  auto lease = db_->claim_run(c, "w");
  ASSERT_TRUE(lease);
  db_->finish_run(*lease, 3.5, "{}");
  const sw::ApplyResult res = sw::write_plan(*db_, plan(kRowBRemoved), true);
  EXPECT_EQ(res.removed.size(), 2u);
  EXPECT_EQ(res.cancelled, (std::vector<std::string>{b}));
  EXPECT_EQ(db_->get_run(b)->status, db::RunStatus::Cancelled);
  EXPECT_EQ(db_->get_run(c)->status, db::RunStatus::Done);
  EXPECT_EQ(db_->get_run(full.runs[0].row.id)->status, db::RunStatus::Pending);
}

TEST_P(Apply, OtherSweepsAreNotRemovedRuns) {
  sw::write_plan(*db_, plan(kTwoRows), false);
  sw::PlanOptions o;
  o.sweep = "other";
  const sw::Plan p = sw::plan_sheet(sw::parse_sheet("arch,d_model,tokens\nhgrn2,64,3M\n", "o.csv", ','), o);
  const sw::ApplyResult res = sw::write_plan(*db_, p, true);
  EXPECT_TRUE(res.removed.empty());
  EXPECT_EQ(res.added.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(FileAndMemory, Apply, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "file" : "memory"; });
