// Leases: fencing tokens, the lease log, reclaiming dead holders at once,
// retries with backoff, stages, the v1 -> v2 migration, read-only opening.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "db/db.h"
#include "db/schema.h"
#include "tests/common/temp_dir.h"

namespace fs = std::filesystem;
using namespace scalelab::db;

namespace {

Run make_run(const std::string& id, double flops, const std::string& stage = "s1") {
  Run r;
  r.id = id;
  r.sweep = "demo";
  r.stage = stage;
  r.arch = "softmax";
  r.spec_json = "{}";
  r.params = 1000;
  r.nonembedding_params = 800;
  r.tokens = 20000;
  r.flops = flops;
  return r;
}

Metric row(const std::string& id, int64_t step) {
  return {id, step, step * 100, 3.0, std::nullopt, 1e-3, 100.0, 1.0};
}

struct LeaseTest : ::testing::Test {
  scalelab::testing::TempDir tmp{"lease"};
  std::string path = (tmp.path() / "l.db").string();
  Database db{path};
};

}  // namespace

TEST_F(LeaseTest, AWorkerThatLostItsLeaseCanWriteNothing) {
  db.insert_runs({make_run("a", 1)});
  auto first = db.claim_next_run("w1");
  ASSERT_TRUE(first);
  const Lease old{"a", first->lease};
  db.log_metrics(old, {row("a", 1)});
  // Its heartbeat stops for longer than stale_after: another worker takes over.
  db.raw().exec("UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00Z'");
  auto second = db.claim_next_run("w2", 600);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->lease, old.token + 1);
  EXPECT_THROW(db.heartbeat(old), LeaseLost);
  EXPECT_THROW(db.log_metrics(old, {row("a", 2)}), LeaseLost);
  EXPECT_THROW(db.finish_run(old, 1.0, "{}"), LeaseLost);
  EXPECT_THROW(db.fail_run(old, "late"), LeaseLost);
  EXPECT_THROW(db.release_run(old), LeaseLost);
  EXPECT_EQ(db.metrics("a").size(), 1u);  // step 2 never landed
  db.finish_run({"a", second->lease}, 2.0, "{}");
  EXPECT_EQ(db.get_run("a")->status, RunStatus::Done);
  // The lease log: two leases, the first expired before the second was claimed.
  const auto log = db.leases("a");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].outcome, "expired");
  EXPECT_EQ(log[0].worker, "w1");
  EXPECT_LE(log[0].ended_at, log[1].claimed_at);
  EXPECT_LE(log[0].last_write_at, log[0].ended_at);
  EXPECT_EQ(log[1].outcome, "done");
  EXPECT_EQ(db.get_run("a")->retries, 1);  // a lost node counts as a retry
}

TEST_F(LeaseTest, StaleAfterShorterThanThreeHeartbeatsNeverReclaimsALiveHolder) {
  db.insert_runs({make_run("a", 1)});
  Holder h{"w1", this_process(), 10};
  ClaimOptions o;
  ASSERT_TRUE(db.claim_next_run(h, o));
  // 5 s without a heartbeat: older than --stale-after 3, younger than 3 x 10 s.
  db.raw().exec("UPDATE runs SET heartbeat_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-5 seconds')");
  o.stale_after_s = 3;
  EXPECT_FALSE(db.claim_next_run(Holder{"w2", this_process(), 10}, o));
  db.raw().exec("UPDATE runs SET heartbeat_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-40 seconds')");
  EXPECT_TRUE(db.claim_next_run(Holder{"w2", this_process(), 10}, o));
}

TEST_F(LeaseTest, DeadHolderOnThisHostIsReclaimedAtOnceALiveOneNever) {
  db.insert_runs({make_run("dead", 1), make_run("alive", 2)});
  // A child process claims "dead" and is killed with SIGKILL.
  const pid_t kid = fork();
  if (kid == 0) {
    Database d(path);
    d.claim_next_run("kid");
    ::pause();
    _exit(0);
  }
  while (db.get_run("dead")->status != RunStatus::Running) ::usleep(10000);
  ASSERT_TRUE(db.claim_next_run("me"));  // "alive", held by this process
  EXPECT_TRUE(db.reclaim_dead_holders().empty());  // both holders alive
  ::kill(kid, SIGKILL);
  ::waitpid(kid, nullptr, 0);
  const auto back = db.reclaim_dead_holders();
  ASSERT_EQ(back, std::vector<std::string>{"dead"});
  EXPECT_EQ(db.get_run("dead")->status, RunStatus::Pending);
  EXPECT_EQ(db.get_run("alive")->status, RunStatus::Running);
  const auto log = db.leases("dead");
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome, "reclaimed");
  EXPECT_NE(log[0].reason.find("holder process " + std::to_string(kid)), std::string::npos)
      << log[0].reason;
}

TEST_F(LeaseTest, LiveTrainerKeepsItsRunWhenItsSchedulerDies) {
  db.insert_runs({make_run("a", 1)});
  // The claimer (a scheduler) dies after its trainer (this process) attached.
  const pid_t sched = fork();
  if (sched == 0) {
    Database d(path);
    d.claim_next_run("sched");
    _exit(0);
  }
  ::waitpid(sched, nullptr, 0);
  const scalelab::db::Run r = *db.get_run("a");
  db.attach({"a", r.lease}, this_process());
  EXPECT_TRUE(db.reclaim_dead_holders().empty());
  db.finish_run({"a", r.lease}, 1.0, "{}");
  EXPECT_EQ(db.get_run("a")->status, RunStatus::Done);
}

TEST_F(LeaseTest, RetryLaterBacksOffAndGivesUp) {
  db.insert_runs({make_run("a", 1)});
  auto r = db.claim_next_run("w");
  EXPECT_TRUE(db.retry_later({"a", r->lease}, "worker killed by signal 9\nlog line", 3600, 1));
  const scalelab::db::Run p = *db.get_run("a");
  EXPECT_EQ(p.status, RunStatus::Pending);
  EXPECT_EQ(p.retries, 1);
  EXPECT_NE(p.not_before, "");
  EXPECT_FALSE(db.claim_next_run("w"));  // backing off for an hour
  ASSERT_TRUE(db.next_backoff_s());
  EXPECT_GT(*db.next_backoff_s(), 3500);
  db.raw().exec("UPDATE runs SET not_before = '2000-01-01T00:00:00Z'");
  r = db.claim_next_run("w");
  ASSERT_TRUE(r);
  EXPECT_FALSE(db.retry_later({"a", r->lease}, "worker killed by signal 9", 1, 1));
  EXPECT_EQ(db.get_run("a")->status, RunStatus::Failed);
  EXPECT_NE(db.get_run("a")->error.find("gave up after 1 retries"), std::string::npos);
  EXPECT_EQ(db.retry_runs({"a"}), 1);  // by hand: pending, budget reset
  EXPECT_EQ(db.get_run("a")->retries, 0);
}

TEST_F(LeaseTest, DivergedIsItsOwnStatusAndCanBeRetried) {
  db.insert_runs({make_run("a", 1)});
  auto r = db.claim_next_run("w");
  db.fail_run({"a", r->lease}, "non-finite training loss (nan) at step 7", true);
  EXPECT_EQ(db.get_run("a")->status, RunStatus::Diverged);
  EXPECT_EQ(db.leases("a")[0].outcome, "diverged");
  EXPECT_EQ(db.retry_runs({"a"}), 1);
}

TEST_F(LeaseTest, CancelAndRequeueFenceTheHolder) {
  db.insert_runs({make_run("a", 1), make_run("b", 2)});
  auto a = db.claim_next_run("w");
  auto b = db.claim_next_run("w");
  EXPECT_EQ(db.cancel_runs({"a"}), 0);  // running runs only with running = true
  EXPECT_EQ(db.cancel_runs({"a"}, true), 1);
  EXPECT_THROW(db.heartbeat({"a", a->lease}), LeaseLost);
  EXPECT_EQ(db.requeue_runs({"b"}), 1);
  EXPECT_THROW(db.log_metrics({"b", b->lease}, {row("b", 1)}), LeaseLost);
  EXPECT_EQ(db.get_run("b")->status, RunStatus::Pending);
  EXPECT_EQ(db.leases("b")[0].outcome, "requeued");
}

TEST_F(LeaseTest, StagesGateClaimsAndPackingFiltersByMemory) {
  scalelab::db::Run big = make_run("big", 1), small = make_run("small", 2), later = make_run("later", 0, "s2");
  big.memory_estimate = 60e9;
  small.memory_estimate = 10e9;
  db.insert_runs({big, small, later});
  db.upsert_stages("demo", {Stage{"demo", "s1"}, Stage{"demo", "s2", 0, "exponent(a) > 0"}});
  ClaimOptions o;
  o.max_memory = 20e9;
  auto r = db.claim_next_run(Holder{"w", this_process(), 10}, o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "small");  // "big" does not fit; "later" waits for its stage
  EXPECT_FALSE(db.claim_next_run(Holder{"w", this_process(), 10}, o));
  const auto st = db.stages("demo");
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].state, "open");
  EXPECT_EQ(st[1].state, "waiting");
  EXPECT_EQ(st[1].gate, "exponent(a) > 0");
  Stage s2 = st[1];
  s2.state = "open";
  s2.verdict = "passed";
  s2.detail = "exponent(a) = 0.1";
  db.decide_stage(s2);
  o.max_memory = 0;
  EXPECT_EQ(db.claim_next_run(Holder{"w", this_process(), 10}, o)->id, "later");
}

TEST(DbMigration, VersionOneDatabaseIsMigratedAndKeepsItsRuns) {
  scalelab::testing::TempDir tmp("migrate");
  const std::string path = (tmp.path() / "v1.db").string();
  {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    raw.exec("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);");
    raw.exec(migrations()[0]);
    raw.exec("INSERT INTO sweeps VALUES ('old', 'x'); INSERT INTO runs(id, sweep, arch, spec, params, "
             "nonembedding_params, tokens, flops, status, created_at) VALUES ('r1', 'old', "
             "'softmax', '{}', 1, 1, 1, 1.0, 'failed', 'x')");
  }
  Database db(path);
  EXPECT_EQ(db.schema_version(), kSchemaVersion);
  EXPECT_EQ(db.get_run("r1")->status, RunStatus::Failed);
  EXPECT_EQ(db.get_run("r1")->lease, 0);
  // 'diverged' passes the widened CHECK, a typo still does not.
  db.raw().exec("UPDATE runs SET status = 'diverged' WHERE id = 'r1'");
  EXPECT_EQ(db.get_run("r1")->status, RunStatus::Diverged);
  EXPECT_THROW(db.raw().exec("UPDATE runs SET status = 'divergd'"), SQLite::Exception);
  EXPECT_EQ(db.raw().execAndGet("PRAGMA integrity_check").getString(), "ok");
}

TEST(DbReadOnly, NeverCreatesAndReadsAReadOnlyDatabase) {
  scalelab::testing::TempDir tmp("readonly");
  const std::string path = (tmp.path() / "r.db").string();
  EXPECT_THROW(Database(path, OpenMode::ReadOnly), std::runtime_error);
  EXPECT_FALSE(fs::exists(path));
  {
    Database db(path);
    db.insert_runs({make_run("a", 1)});
  }
  // An archived database: the file and its folder read-only, no -shm beside it.
  fs::permissions(path, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  fs::permissions(tmp.path(), fs::perms::owner_read | fs::perms::owner_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  // Root ignores permissions, so the reader runs as nobody where it can.
  const pid_t kid = fork();
  if (kid == 0) {
    if (::getuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) _exit(3);
    try {
      Database db(path, OpenMode::ReadOnly);
      _exit(db.list_runs().size() == 1 ? 0 : 1);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      _exit(2);
    }
  }
  int st = 0;
  ::waitpid(kid, &st, 0);
  fs::permissions(tmp.path(), fs::perms::owner_all);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
  EXPECT_FALSE(fs::exists(path + "-shm"));
}

TEST(DbHealth, QuickCheckFindsCorruption) {
  scalelab::testing::TempDir tmp("corrupt");
  const std::string path = (tmp.path() / "c.db").string();
  {
    Database db(path);
    std::vector<scalelab::db::Run> runs;
    for (int i = 0; i < 400; ++i) runs.push_back(make_run("r" + std::to_string(i), i));
    db.insert_runs(runs);
    EXPECT_EQ(db.quick_check(), "ok");
    db.raw().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    // Random bytes over the b-tree page headers at the offsets issue 15 names.
    ASSERT_GT(fs::file_size(path), 28672u + 4096u);
    for (long off : {8192L, 12288L, 28672L}) {
      f.seekp(off);
      f.write("\x07garbage garbage garbage", 24);
    }
  }
  std::string result;
  try {
    Database db(path);
    result = db.quick_check();
  } catch (const std::runtime_error& e) {
    result = e.what();
  }
  EXPECT_NE(result, "ok");
}
