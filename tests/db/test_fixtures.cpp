// Stored databases of every earlier schema version (tests/data/schema/vN.db,
// written by make_fixtures.py with the migration code of the commit that
// introduced version N) open, migrate to the current version and keep every
// row; read-only opening refuses them with the reason instead of migrating.
#include <gtest/gtest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "db/db.h"
#include "db/lineage.h"
#include "db/schema.h"
#include "tests/common/temp_dir.h"

namespace scalelab::db {
namespace {

namespace fs = std::filesystem;

class Fixture : public ::testing::TestWithParam<int> {
 protected:
  // A copy: the stored file stays as it was, whatever the test does.
  std::string copy(const scalelab::testing::TempDir& tmp) const {
    const fs::path src = fs::path(SCALELAB_SOURCE_DIR) / "tests/data/schema" /
                         ("v" + std::to_string(GetParam()) + ".db");
    const fs::path dst = tmp.path() / src.filename();
    fs::copy_file(src, dst);
    return dst.string();
  }
};

TEST_P(Fixture, StoredFileIsAtItsVersion) {
  scalelab::testing::TempDir tmp("fixture_version");
  SQLite::Database raw(copy(tmp), SQLite::OPEN_READONLY);
  EXPECT_EQ(raw.execAndGet("SELECT version FROM schema_version").getInt(), GetParam());
  EXPECT_LT(GetParam(), kSchemaVersion);
}

TEST_P(Fixture, OpensMigratesAndKeepsEveryRow) {
  scalelab::testing::TempDir tmp("fixture_migrate");
  const std::string path = copy(tmp);
  Database db(path);
  EXPECT_EQ(db.schema_version(), kSchemaVersion);
  EXPECT_EQ(db.quick_check(), "ok");
  EXPECT_EQ(db.raw().execAndGet("PRAGMA integrity_check").getString(), "ok");

  const auto done = db.get_run("r_done");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, RunStatus::Done);
  EXPECT_EQ(done->arch, "softmax");
  EXPECT_EQ(done->params, 141504);
  EXPECT_EQ(done->tokens, 2000000);
  ASSERT_TRUE(done->final_loss);
  EXPECT_DOUBLE_EQ(*done->final_loss, 3.125);
  EXPECT_EQ(done->lease, 0);  // columns of later versions take their defaults
  EXPECT_EQ(done->retries, 0);
  EXPECT_EQ(done->micro_batch, GetParam() >= 2 ? 4 : 0);
  EXPECT_EQ(db.get_run("r_failed")->status, RunStatus::Failed);
  EXPECT_EQ(db.get_run("r_failed")->error, "trainer exited with signal 9");
  EXPECT_EQ(db.get_run("r_pending")->status, RunStatus::Pending);
  EXPECT_EQ(db.get_run("r_running")->status, RunStatus::Running);
  EXPECT_EQ(db.list_runs().size(), GetParam() >= 3 ? 6u : 4u);

  const auto m = db.metrics("r_done");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1].step, 100);
  EXPECT_DOUBLE_EQ(*m[1].val_loss, 3.125);
  EXPECT_EQ(m[1].grad_norm.has_value(), GetParam() >= 2);
  const auto bad = db.metrics("r_failed");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_TRUE(std::isnan(*bad[0].train_loss));  // NaN stored as text survives
  EXPECT_TRUE(std::isinf(*bad[0].tokens_per_s));
  ASSERT_EQ(db.fits().size(), 1u);
  EXPECT_EQ(db.fits()[0].method, "kaplan_c");

  // The migrated database is fully usable: the new status and a lease.
  db.raw().exec("UPDATE runs SET status = 'diverged' WHERE id = 'r_failed'");
  EXPECT_EQ(db.get_run("r_failed")->status, RunStatus::Diverged);
  const auto claimed = db.claim_run("r_pending", "fixture-worker");
  ASSERT_TRUE(claimed);
  EXPECT_GT(claimed->token, 0);
  if (GetParam() >= 3) {
    const auto bp = branch_point(db, "w_parent", 80);
    ASSERT_TRUE(bp);
    EXPECT_EQ(bp->tokens, 163840);
    bool found = false;
    for (const Lineage& l : lineages(db))
      if (l.id == "w_branch") found = l.parent_id == "w_parent" && l.branch_step == 80;
    EXPECT_TRUE(found);
  }
}

TEST_P(Fixture, ReadOnlyOpenSaysAWritingCommandMigrates) {
  scalelab::testing::TempDir tmp("fixture_ro");
  const std::string path = copy(tmp);
  try {
    Database db(path, OpenMode::ReadOnly);
    FAIL() << "an old database opened read-only without migrating";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("has schema version " + std::to_string(GetParam()) +
                                         ", older than this scalelab's"),
              std::string::npos)
        << e.what();
  }
  SQLite::Database raw(path, SQLite::OPEN_READONLY);
  EXPECT_EQ(raw.execAndGet("SELECT version FROM schema_version").getInt(), GetParam());
}

// One fixture per earlier version: a new migration step needs a new file.
TEST(Fixtures, EveryEarlierVersionHasOne) {
  for (int v = 1; v < kSchemaVersion; ++v)
    EXPECT_TRUE(fs::exists(fs::path(SCALELAB_SOURCE_DIR) / "tests/data/schema" /
                           ("v" + std::to_string(v) + ".db")))
        << "no stored database of schema version " << v
        << " (tests/data/schema/make_fixtures.py writes them)";
}

INSTANTIATE_TEST_SUITE_P(Versions, Fixture, ::testing::Range(1, kSchemaVersion),
                         [](const auto& info) { return "v" + std::to_string(info.param); });

}  // namespace
}  // namespace scalelab::db
