// WSD branch lineage in the database: read from the spec, claimable only once
// the parent has recorded the branch point, and present in databases created
// by the schema before branches existed.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "db/db.h"
#include "db/lineage.h"
#include "db/schema.h"

namespace fs = std::filesystem;
using namespace scalelab::db;

namespace {

Run run_with(const std::string& id, const std::string& spec, double flops) {
  Run r;
  r.id = id;
  r.sweep = "s";
  r.arch = "softmax";
  r.spec_json = spec;
  r.flops = flops;
  return r;
}

std::string branch_json(const std::string& parent, int step) {
  return R"({"branch_of":")" + parent + R"(","branch_step":)" + std::to_string(step) + "}";
}

TEST(Lineage, BranchIsClaimableOnlyOnceItsPointIsRecorded) {
  Database db(":memory:");
  // The branches are cheaper, so a claim would pick them first if it could.
  db.insert_runs({run_with("parent", R"({"branches":[10,20]})", 100),
                  run_with("b10", branch_json("parent", 8), 1),
                  run_with("b20", branch_json("parent", 16), 2)});
  EXPECT_FALSE(db.claim_run("b10", "w"));
  auto first = db.claim_next_run("w");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->id, "parent");
  EXPECT_EQ(waiting_branches(db), 2);  // the parent is running: both will come
  EXPECT_FALSE(db.claim_next_run("w2"));
  record_branch_point(db, {"parent", 8, 80, "/ckpt/branch-8.pt", ""});
  auto second = db.claim_next_run("w2");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, "b10");
  EXPECT_FALSE(db.claim_next_run("w3"));
  record_branch_point(db, {"parent", 16, 160, "/ckpt/branch-16.pt", ""});
  record_branch_point(db, {"parent", 16, 160, "/ckpt2/branch-16.pt", ""});  // rewritten on resume
  EXPECT_EQ(branch_point(db, "parent", 16)->path, "/ckpt2/branch-16.pt");
  EXPECT_TRUE(db.claim_run("b20", "w3"));
  EXPECT_FALSE(branch_point(db, "parent", 4));
  db.fail_run({"parent", first->lease}, "oom");
  EXPECT_EQ(waiting_branches(db), 0);
}

TEST(Lineage, ParentFailedBeforeAPointLeavesItsBranchesWaitingNoMore) {
  Database db(":memory:");
  db.insert_runs({run_with("p", R"({"branches":[10]})", 10), run_with("b", branch_json("p", 8), 1)});
  const auto lease = db.claim_run("p", "w");
  ASSERT_TRUE(lease);
  EXPECT_EQ(waiting_branches(db), 1);
  db.fail_run(*lease, "nan");
  EXPECT_EQ(waiting_branches(db), 0);  // a scheduler stops instead of polling forever
  EXPECT_FALSE(db.claim_next_run("w"));
}

// A database written by schema version 1 (before branches) gains the lineage
// columns and the branch_points table, and its runs stay claimable.
TEST(Lineage, MigratesAVersionOneDatabase) {
  const fs::path dir = fs::temp_directory_path() / ("scalelab_lineage_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "v1.db").string();
  {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    raw.exec("CREATE TABLE schema_version (version INTEGER NOT NULL); "
             "INSERT INTO schema_version VALUES (1);");
    raw.exec(migrations()[0]);
    raw.exec("INSERT INTO sweeps VALUES ('s', '2026-01-01T00:00:00Z'); "
             "INSERT INTO runs(id, sweep, arch, spec, params, nonembedding_params, tokens, flops, "
             "created_at) VALUES ('old', 's', 'softmax', 'not json', 1, 1, 1, 1, 'x'), "
             "('old2', 's', 'softmax', '{\"tokens\":5}', 1, 1, 1, 2, 'x');");
  }
  {
    Database db(path);
    EXPECT_EQ(db.schema_version(), kSchemaVersion);
    EXPECT_TRUE(lineages(db).empty());
    EXPECT_EQ(db.claim_next_run("w")->id, "old");
    EXPECT_EQ(db.claim_next_run("w")->id, "old2");
  }
  fs::remove_all(dir);
}

}  // namespace
