#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "db/db.h"
#include "db/schema.h"

namespace fs = std::filesystem;
using namespace scalelab::db;

namespace {

Run make_run(const std::string& id, double flops, int priority = 0) {
  Run r;
  r.id = id;
  r.sweep = "demo";
  r.stage = "s1";
  r.name = "row";
  r.arch = "softmax";
  r.spec_json = "{\"id\":\"" + id + "\"}";
  r.params = 1000;
  r.nonembedding_params = 800;
  r.tokens = 20000;
  r.flops = flops;
  r.priority = priority;
  return r;
}

// Every test runs against a file database and an in-memory one.
class DbTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      dir_ = fs::temp_directory_path() / ("scalelab_db_" + std::to_string(::getpid()) + "_" +
                                          ::testing::UnitTest::GetInstance()->current_test_info()->name());
      fs::create_directories(dir_);
      path_ = (dir_ / "t.db").string();
    } else {
      path_ = ":memory:";
    }
    db_ = std::make_unique<Database>(path_);
  }
  void TearDown() override {
    db_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  fs::path dir_;
  std::string path_;
  std::unique_ptr<Database> db_;
};

}  // namespace

TEST_P(DbTest, CreatesSchemaAtCurrentVersion) {
  EXPECT_EQ(db_->schema_version(), kSchemaVersion);
  EXPECT_EQ(static_cast<int>(migrations().size()), kSchemaVersion);
  for (const char* t : {"sweeps", "runs", "metrics", "fits", "schema_version"})
    EXPECT_TRUE(db_->raw().tableExists(t)) << t;
}

TEST_P(DbTest, InsertIsIdempotent) {
  auto added = db_->insert_runs({make_run("a", 1e12), make_run("b", 2e12)});
  EXPECT_EQ(added.size(), 2u);
  added = db_->insert_runs({make_run("a", 1e12), make_run("b", 2e12), make_run("c", 3e12)});
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0], "c");
  EXPECT_EQ(db_->list_runs().size(), 3u);
  auto r = db_->get_run("b");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::Pending);
  EXPECT_EQ(r->nonembedding_params, 800);
  EXPECT_DOUBLE_EQ(r->flops, 2e12);
}

TEST_P(DbTest, ClaimOrderFinishAndFail) {
  db_->insert_runs({make_run("big", 9e12), make_run("small", 1e12), make_run("urgent", 5e12, 5)});
  // Priority first, then the cheapest run.
  auto c1 = db_->claim_next_run("w1");
  ASSERT_TRUE(c1);
  EXPECT_EQ(c1->id, "urgent");
  EXPECT_EQ(c1->status, RunStatus::Running);
  EXPECT_EQ(c1->attempts, 1);
  EXPECT_EQ(c1->worker, "w1");
  auto c2 = db_->claim_next_run("w1");
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->id, "small");
  db_->finish_run({"urgent", c1->lease}, 2.5, "{\"gpu\":\"none\"}");
  db_->fail_run({"small", c2->lease}, "NaN loss at step 7");
  auto done = db_->get_run("urgent");
  EXPECT_EQ(done->status, RunStatus::Done);
  ASSERT_TRUE(done->final_loss);
  EXPECT_DOUBLE_EQ(*done->final_loss, 2.5);
  auto failed = db_->get_run("small");
  EXPECT_EQ(failed->status, RunStatus::Failed);
  EXPECT_EQ(failed->error, "NaN loss at step 7");
  // A failed run is not claimed again by claim_next_run, but can be retried.
  auto c3 = db_->claim_next_run("w1");
  ASSERT_TRUE(c3);
  EXPECT_EQ(c3->id, "big");
  EXPECT_FALSE(db_->claim_next_run("w1"));
  EXPECT_EQ(db_->retry_runs({"small", "urgent"}), 1);  // done runs are never retried
  EXPECT_EQ(db_->get_run("small")->status, RunStatus::Pending);
  // A done run is never turned into a failure.
  EXPECT_THROW(db_->fail_run({"urgent", c1->lease}, "late"), LeaseLost);
  EXPECT_EQ(db_->get_run("urgent")->status, RunStatus::Done);
}

TEST_P(DbTest, StaleRunningRunIsReclaimed) {
  db_->insert_runs({make_run("a", 1e12)});
  ASSERT_TRUE(db_->claim_next_run("dead-worker"));
  EXPECT_FALSE(db_->claim_next_run("w2", 600));  // fresh heartbeat: not stale
  db_->raw().exec("UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00Z'");
  auto r = db_->claim_next_run("w2", 600);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->worker, "w2");
  EXPECT_EQ(r->attempts, 2);
}

TEST_P(DbTest, CancelLeavesDoneAndRunningAlone) {
  db_->insert_runs({make_run("a", 1), make_run("b", 2), make_run("c", 3)});
  db_->claim_run("a", "w");
  auto b = db_->claim_run("b", "w");
  db_->finish_run(*b, 1.0, "{}");
  EXPECT_EQ(db_->cancel_runs({"a", "b", "c"}), 1);
  EXPECT_EQ(db_->get_run("a")->status, RunStatus::Running);
  EXPECT_EQ(db_->get_run("b")->status, RunStatus::Done);
  EXPECT_EQ(db_->get_run("c")->status, RunStatus::Cancelled);
  EXPECT_EQ(db_->requeue_running("w"), 1);
  EXPECT_EQ(db_->get_run("a")->status, RunStatus::Pending);
}

TEST_P(DbTest, MetricsUniquePerStepAndUpsert) {
  db_->insert_runs({make_run("a", 1)});
  db_->log_metrics({{"a", 10, 100, 3.0, 3.1, 1e-3, 5000, 1.0}, {"a", 20, 200, 2.5, std::nullopt, 1e-3, 5000, 2.0}});
  // Re-logging step 20 (a resumed run) replaces it, keeping one row per step.
  db_->log_metrics({{"a", 20, 200, 2.4, 2.6, 1e-3, 5000, 2.0}});
  auto m = db_->metrics("a");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_DOUBLE_EQ(*m[1].train_loss, 2.4);
  EXPECT_DOUBLE_EQ(*m[1].val_loss, 2.6);
  EXPECT_FALSE(db_->metrics("nope").size());
  EXPECT_THROW(db_->raw().exec("INSERT INTO metrics(run_id, step, tokens) VALUES ('a', 10, 1)"),
               SQLite::Exception);
}

TEST_P(DbTest, NonFiniteStoredExplicitly) {
  db_->insert_runs({make_run("a", 1)});
  db_->log_metrics({{"a", 1, 10, std::nan(""), INFINITY, -INFINITY, std::nullopt, 0.0}});
  auto m = db_->metrics("a");
  ASSERT_EQ(m.size(), 1u);
  ASSERT_TRUE(m[0].train_loss);
  EXPECT_TRUE(std::isnan(*m[0].train_loss));
  EXPECT_TRUE(std::isinf(*m[0].val_loss) && *m[0].val_loss > 0);
  EXPECT_TRUE(std::isinf(*m[0].lr) && *m[0].lr < 0);
  EXPECT_FALSE(m[0].tokens_per_s);  // not measured is NULL, distinct from NaN
  // The raw storage is text, queryable without our code.
  EXPECT_EQ(db_->raw().execAndGet("SELECT train_loss FROM metrics").getString(), "nan");
  EXPECT_EQ(db_->raw().execAndGet("SELECT typeof(tokens_per_s) FROM metrics").getString(), "null");
  auto a = db_->claim_run("a", "w");
  db_->finish_run(*a, std::nan(""), "{}");
  EXPECT_TRUE(std::isnan(*db_->get_run("a")->final_loss));
}

TEST_P(DbTest, FitsRoundTrip) {
  Fit f;
  f.method = "kaplan_c";
  f.arch = "softmax";
  f.n_points = 6;
  f.result_json = "{\"alpha\":0.05}";
  EXPECT_GT(db_->save_fit(f), 0);
  auto all = db_->fits("kaplan_c");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].result_json, "{\"alpha\":0.05}");
  db_->clear_fits();
  EXPECT_TRUE(db_->fits().empty());
}

TEST_P(DbTest, TransactionRollsBackUnlessCommitted) {
  {
    Transaction tx(*db_);
    db_->raw().exec("INSERT INTO sweeps(name, created_at) VALUES ('x', 'now')");
  }
  EXPECT_EQ(db_->raw().execAndGet("SELECT count(*) FROM sweeps").getInt(), 0);
  {
    Transaction tx(*db_);
    db_->raw().exec("INSERT INTO sweeps(name, created_at) VALUES ('x', 'now')");
    tx.commit();
  }
  EXPECT_EQ(db_->raw().execAndGet("SELECT count(*) FROM sweeps").getInt(), 1);
}

TEST_P(DbTest, EvalsReplacePerRunAndEval) {
  db_->insert_runs({make_run("a", 1), make_run("b", 2)});
  auto row = [](const std::string& run, const std::string& eval, int64_t ctx, double depth, double v) {
    EvalRow r;
    r.run_id = run;
    r.eval = eval;
    r.variant = eval == "sniah" ? "passkey/repeat" : "";
    r.context = ctx;
    r.depth = depth;
    r.value = v;
    r.n = 4;
    return r;
  };
  db_->replace_evals("a", "sniah", {row("a", "sniah", 512, 0.5, 0.75), row("a", "sniah", 512, 1, std::nan(""))});
  db_->replace_evals("a", "mqar", {row("a", "mqar", 64, 0, 0.98)});
  db_->replace_evals("b", "sniah", {row("b", "sniah", 256, 0, 0.25)});
  auto all = db_->evals();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].eval, "mqar");  // by run, then eval
  EXPECT_DOUBLE_EQ(all[1].value, 0.75);
  EXPECT_TRUE(std::isnan(all[2].value)) << "NaN is stored explicitly";
  EXPECT_EQ(all[2].depth, 1.0);
  // Replacing (a, sniah) leaves (a, mqar) and (b, sniah) alone.
  db_->replace_evals("a", "sniah", {row("a", "sniah", 1024, 0, 0.5)});
  all = db_->evals("a");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].context, 1024);
  EXPECT_EQ(db_->evals("b").size(), 1u);
  // A row of another run or eval is refused, and nothing of the call is kept.
  EXPECT_THROW(db_->replace_evals("a", "sniah", {row("a", "sniah", 1, 0, 0), row("b", "sniah", 1, 0, 0)}),
               std::invalid_argument);
  EXPECT_EQ(db_->evals("a").size(), 2u);
  // Two rows of the same point are a constraint error, rolled back.
  EXPECT_ANY_THROW(db_->replace_evals("b", "sniah", {row("b", "sniah", 1, 0, 0), row("b", "sniah", 1, 0, 0)}));
  EXPECT_EQ(db_->evals("b").size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(FileAndMemory, DbTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "file" : "memory"; });

TEST(DbFile, TwoProcessesNeverClaimTheSameRun) {
  const fs::path dir = fs::temp_directory_path() / ("scalelab_race_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "race.db").string();
  {
    Database db(path);
    std::vector<scalelab::db::Run> runs;
    for (int i = 0; i < 200; ++i) runs.push_back(make_run("r" + std::to_string(i), i));
    db.insert_runs(runs);
  }
  std::vector<pid_t> kids;
  for (int w = 0; w < 4; ++w) {
    pid_t pid = fork();
    if (pid == 0) {
      Database db(path);
      while (db.claim_next_run("w" + std::to_string(w))) {
      }
      _exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int st = 0;
    ASSERT_EQ(waitpid(k, &st, 0), k);
    ASSERT_TRUE(WIFEXITED(st)) << "claimer killed by signal " << WTERMSIG(st);
    EXPECT_EQ(WEXITSTATUS(st), 0);
  }
  Database db(path);
  auto runs = db.list_runs();
  ASSERT_EQ(runs.size(), 200u);
  for (const auto& r : runs) {
    EXPECT_EQ(r.status, RunStatus::Running);
    EXPECT_EQ(r.attempts, 1) << r.id << " claimed twice";
  }
  fs::remove_all(dir);
}

TEST(DbFile, MigratesAVersionFourDatabaseToEvals) {
  const fs::path dir = fs::temp_directory_path() / ("scalelab_db_v4_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "v4.db").string();
  {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    raw.exec("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (4);");
    for (int i = 0; i < 4; ++i) raw.exec(migrations()[i]);
    raw.exec("INSERT INTO sweeps VALUES ('s', 'x'); INSERT INTO runs(id, sweep, arch, spec, params, "
             "nonembedding_params, tokens, flops, created_at) VALUES ('r', 's', 'softmax', '{}', 1, 1, 1, 1, 'x')");
  }
  {
    Database db(path);
    EXPECT_EQ(db.schema_version(), 5);
    EXPECT_TRUE(db.evals().empty());
    EvalRow e;
    e.run_id = "r";
    e.eval = "mqar";
    e.value = 1;
    db.replace_evals("r", "mqar", {e});
    EXPECT_EQ(db.evals().size(), 1u);
    EXPECT_EQ(db.get_run("r")->status, RunStatus::Pending);
  }
  fs::remove_all(dir);
}

TEST(DbFile, NewerSchemaIsRefused) {
  const fs::path dir = fs::temp_directory_path() / ("scalelab_newer_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "n.db").string();
  { Database db(path); db.raw().exec("UPDATE schema_version SET version = 99"); }
  try {
    Database db(path);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(DbFile, MissingDirectoryNamesThePath) {
  try {
    Database db("/nonexistent_dir_xyz/a.db");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent_dir_xyz/a.db"), std::string::npos);
  }
}
