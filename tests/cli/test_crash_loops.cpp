// Crash loops: `kill -9` at random moments, 50 times during planning and 50
// times during metric logging. After every kill the database passes
// PRAGMA integrity_check, and every result committed before it (a plan that
// exited 0, a metrics row whose log_metrics returned) is still there: a plan is
// all or nothing, a metrics row is there or it was never acknowledged.
#include <gtest/gtest.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "db/db.h"
#include "tests/common/cli.h"
#include "tests/common/temp_dir.h"

namespace scalelab {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr int kKills = 50;

std::string integrity(const std::string& path) {
  SQLite::Database raw(path, SQLite::OPEN_READONLY);
  return raw.execAndGet("PRAGMA integrity_check").getString();
}

int64_t count(const std::string& path, const std::string& sql) {
  SQLite::Database raw(path, SQLite::OPEN_READONLY);
  return raw.execAndGet(sql).getInt64();
}

// 3 architectures x 40 widths x 12 depths = 1440 runs: planning takes long
// enough (and writes enough pages) for kills to land inside its transaction.
// Each sheet has its own seed, so its own run ids (a run's id is its spec).
void write_sheet(const fs::path& p, int seed) {
  std::ofstream(p) << "name,arch,layers,d_model,heads,vocab,seq_len,tokens,batch_tokens,seed\n"
                      "grid,softmax|lightning|hgrn2,1..12+1,64..2560+64,1,256,64,1M,2048,"
                   << seed << "\n";
}

TEST(CrashLoop, KillNineDuringPlanningLosesNothingCommitted) {
  scalelab::testing::TempDir tmp("crash_plan");
  const std::string db = (tmp.path() / "sweep.db").string();
  std::mt19937 rng(19);
  // How long an uninterrupted plan takes here (a sanitizer build is slower).
  write_sheet(tmp.path() / "first.csv", 1000);
  const auto t0 = Clock::now();
  const auto first = scalelab::testing::run_cli(tmp.path(), "--db sweep.db plan first.csv");
  const double plan_s = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_EQ(first.rc, 0) << first.out;
  const int64_t per_sheet = count(db, "SELECT count(*) FROM runs WHERE sweep = 'first'");
  ASSERT_EQ(per_sheet, 1440);
  int killed = 0, completed = 0;
  std::vector<std::string> committed = {"first"};
  for (int i = 0; i < kKills; ++i) {
    const std::string sweep = "s" + std::to_string(i);
    write_sheet(tmp.path() / (sweep + ".csv"), i);
    const pid_t pid = scalelab::testing::spawn_cli(
        tmp.path(), {"--db", "sweep.db", "-q", "plan", sweep + ".csv"}, "plan.log");
    ASSERT_GT(pid, 0);
    std::uniform_real_distribution<double> at(0.0, 1.1 * plan_s);
    std::this_thread::sleep_for(std::chrono::duration<double>(at(rng)));
    ::kill(pid, SIGKILL);
    const int rc = scalelab::testing::wait_exit(pid);
    if (rc == 128 + SIGKILL) {
      ++killed;
    } else {
      ASSERT_EQ(rc, 0) << "plan " << sweep << " failed on its own";
      ++completed;
      committed.push_back(sweep);
    }
    ASSERT_EQ(integrity(db), "ok") << "after kill " << i;
    const int64_t n = count(db, "SELECT count(*) FROM runs WHERE sweep = '" + sweep + "'");
    EXPECT_TRUE(n == 0 || n == per_sheet) << "a partial plan of " << n << " runs after kill " << i;
    if (n == per_sheet && rc != 0) committed.push_back(sweep);  // committed just before the kill
    for (const std::string& s : committed)
      ASSERT_EQ(count(db, "SELECT count(*) FROM runs WHERE sweep = '" + s + "'"), per_sheet)
          << "sweep " << s << " lost runs after kill " << i;
  }
  // The killed plans, planned again, complete (nothing half-written blocks them).
  const auto again = scalelab::testing::run_cli(tmp.path(), "--db sweep.db plan s0.csv");
  EXPECT_EQ(again.rc, 0) << again.out;
  RecordProperty("killed", killed);
  RecordProperty("completed_before_kill", completed);
  std::printf("crash loop (plan): %d kills, %d killed mid-plan, %d had finished; %.2f s per plan\n",
              kKills, killed, completed, plan_s);
  EXPECT_GT(killed, kKills / 2) << "most kills should land while planning";
}

db::Run make_run(const std::string& id) {
  db::Run r;
  r.id = id;
  r.sweep = "crash";
  r.name = "row";
  r.arch = "softmax";
  r.spec_json = "{}";
  r.params = 1000;
  r.nonembedding_params = 800;
  r.tokens = 1 << 30;
  r.flops = 1e12;
  return r;
}

// A trainer's metric writes: one row per step, each acknowledged on a pipe
// once log_metrics has returned (committed).
[[noreturn]] void log_forever(const std::string& path, const std::string& id, int ack_fd) {
  db::Database db(path);
  const auto lease = db.claim_run(id, "crash-test");
  if (!lease) _exit(3);
  for (int64_t step = 1;; ++step) {
    db::Metric m;
    m.run_id = id;
    m.step = step;
    m.tokens = step * 2048;
    m.train_loss = 10.0 / static_cast<double>(step);
    m.lr = 1e-3;
    db.log_metrics(*lease, {m});
    if (::write(ack_fd, &step, sizeof step) != sizeof step) _exit(4);
  }
}

TEST(CrashLoop, KillNineDuringMetricLoggingLosesNoAcknowledgedRow) {
  scalelab::testing::TempDir tmp("crash_metrics");
  const std::string path = (tmp.path() / "m.db").string();
  {
    db::Database db(path);
    std::vector<db::Run> runs;
    for (int i = 0; i < kKills; ++i) runs.push_back(make_run("r" + std::to_string(i)));
    db.insert_runs(runs);
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> wait_ms(5, 120);
  std::vector<int64_t> acked(kKills, 0);
  int64_t rows = 0;
  for (int i = 0; i < kKills; ++i) {
    const std::string id = "r" + std::to_string(i);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      log_forever(path, id, fds[1]);
    }
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms(rng)));
    ::kill(pid, SIGKILL);
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
        << "the logger stopped on its own (exit " << (WIFEXITED(st) ? WEXITSTATUS(st) : -1) << ")";
    for (int64_t step; ::read(fds[0], &step, sizeof step) == sizeof step;) acked[i] = step;
    ::close(fds[0]);
    ASSERT_EQ(integrity(path), "ok") << "after kill " << i;
    // Every acknowledged row of every run so far is there, and at most one
    // more (committed, killed before it said so).
    for (int j = 0; j <= i; ++j) {
      const std::string rid = "r" + std::to_string(j);
      const int64_t n = count(path, "SELECT count(*) FROM metrics WHERE run_id = '" + rid + "'");
      const int64_t top = count(path, "SELECT coalesce(max(step), 0) FROM metrics WHERE run_id = '" + rid + "'");
      ASSERT_EQ(n, top) << rid << ": a gap in the logged steps after kill " << i;
      ASSERT_GE(n, acked[j]) << rid << ": acknowledged rows lost after kill " << i;
      ASSERT_LE(n, acked[j] + 1) << rid;
    }
    rows += acked[i];
  }
  std::printf("crash loop (metrics): %d kills, %lld acknowledged rows, 0 lost\n", kKills,
              static_cast<long long>(rows));
  EXPECT_GT(rows, kKills) << "the logger should have written rows before most kills";
}

}  // namespace
}  // namespace scalelab
