// Runs trained for real, as issue 15 found them failing: a run killed with
// its scheduler is reclaimed at once, an OOM-killed one is retried, SIGUSR1
// checkpoints and requeues, NaN is `diverged` and left out of fits with the
// reason, retry / cancel / status --watch, and staged sweeps with gates.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "db/db.h"
#include "tests/common/cli.h"
#include "tests/common/temp_dir.h"

namespace fs = std::filesystem;
using scalelab::db::Database;
using scalelab::db::RunStatus;
using scalelab::testing::contains;
using scalelab::testing::run_cli;

namespace {

const std::string kHeader =
    "name,stage,gate,arch,layers,d_model,heads,seq_len,tokens,batch_tokens,lr,warmup,eval_every,"
    "eval_tokens,seed,data\n";

struct Trained : ::testing::Test {
  scalelab::testing::TempDir tmp{"queue"};
  fs::path dir = tmp.path();
  std::string corpus = (dir / "corpus.txt").string();
  void SetUp() override {
    std::ofstream out(corpus);
    for (int i = 0; i < 3000; ++i) out << "the quick brown fox " << i % 97 << " jumps over the lazy dog\n";
  }
  // A sheet row: NAME,STAGE,GATE,ARCH with d_model D, TOKENS tokens, learning rate LR.
  std::string row(const std::string& name, const std::string& stage, const std::string& gate,
                  const std::string& arch, int d, int64_t tokens, const std::string& lr = "3e-3") {
    // Held-out loss only at the end: every row is a log interval (1% of the steps).
    return name + "," + stage + ",\"" + gate + "\"," + arch + ",1," + std::to_string(d) + ",1,16," +
           std::to_string(tokens) + ",64," + lr + ",1," + std::to_string(tokens / 64) + ",64,0," +
           corpus + "\n";
  }
  void plan(const std::string& rows, const std::string& db = "q.db") {
    std::ofstream(dir / "q.csv") << kHeader << rows;
    const auto r = run_cli(dir, "plan q.csv --db " + db);
    ASSERT_EQ(r.rc, 0) << r.out;
  }
  Database db(const std::string& name = "q.db") { return Database((dir / name).string()); }

  pid_t start(const std::vector<std::string>& args, const std::string& log) {
    return scalelab::testing::spawn_cli(dir, args, log);
  }
  // Polls COND every 50 ms; false after two minutes (a hung test, not a speed limit).
  static bool wait_for(const std::function<bool()>& cond) {
    for (int i = 0; i < 2400; ++i) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  static int exit_code(pid_t pid) { return scalelab::testing::wait_exit(pid); }
  // The trainer pid once it has attached to RUN's current lease and logged a step.
  int64_t trainer_of(Database& d, const std::string& run) {
    int64_t pid = 0;
    wait_for([&] {
      const auto log = d.leases(run);
      if (log.empty() || log.back().pid == 0 || log.back().ended_at != "") return false;
      if (d.metrics(run).empty()) return false;
      pid = log.back().pid;
      return true;
    });
    return pid;
  }
};

}  // namespace

// Issue 15: after kill -9 of scheduler and trainer the next `run` printed
// "0 started" and waited 600 s. Now it reclaims at once; SIGINT then
// checkpoints, and the run resumes from the checkpoint.
TEST_F(Trained, KilledSchedulerAndTrainerAreReclaimedAtOnceAndResume) {
  plan(row("long", "", "", "softmax", 16, 64 * 1500));
  Database d = db();
  const std::string id = d.list_runs()[0].id;
  pid_t sched = start({"--db", "q.db", "run", "--checkpoint-every", "0.2", "--threads", "1"}, "a.log");
  const int64_t trainer = trainer_of(d, id);
  ASSERT_GT(trainer, 0);
  ::kill(static_cast<pid_t>(trainer), SIGKILL);
  ::kill(sched, SIGKILL);
  exit_code(sched);
  ASSERT_TRUE(wait_for([&] { return !scalelab::db::process_alive(trainer, 0); }));
  ASSERT_EQ(d.get_run(id)->status, RunStatus::Running);  // as a dead node leaves it
  // Default --stale-after (600 s): the holder pids are gone, so no waiting.
  sched = start({"--db", "q.db", "run", "--checkpoint-every", "0.2", "--threads", "1"}, "b.log");
  ASSERT_GT(trainer_of(d, id), 0);
  ASSERT_TRUE(wait_for([&] { return fs::exists(dir / "runs" / id / "checkpoint.pt"); }));
  ::kill(sched, SIGINT);
  EXPECT_EQ(exit_code(sched), 3);  // interrupted, resumable
  const auto log = d.leases(id);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].outcome, "reclaimed");
  EXPECT_TRUE(contains(log[0].reason, "is gone")) << log[0].reason;
  EXPECT_EQ(log[1].outcome, "released");
  EXPECT_EQ(d.get_run(id)->status, RunStatus::Pending);
  // A third scheduler resumes from the checkpoint and finishes.
  const auto r = run_cli(dir, "--db q.db run --threads 1 -q");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(d.get_run(id)->status, RunStatus::Done);
  std::ifstream tl(dir / "runs" / id / "train.log");
  EXPECT_TRUE(contains(std::string((std::istreambuf_iterator<char>(tl)), {}), "resuming at step"));
}

TEST_F(Trained, OomKilledTrainerIsRetriedAfterBackoffAndDivergedIsApart) {
  plan(row("ok", "", "", "softmax", 16, 64 * 1500) +
       row("nan", "", "", "softmax", 24, 64 * 6, "1e30"));
  Database d = db();
  std::string ok, nan;
  for (const auto& r : d.list_runs()) (r.name == "ok" ? ok : nan) = r.id;
  pid_t sched = start({"--db", "q.db", "run", "--threads", "1", "--retry-backoff", "0",
                       "--checkpoint-every", "0.2"}, "s.log");
  const int64_t trainer = trainer_of(d, ok);
  ASSERT_GT(trainer, 0);
  ::kill(static_cast<pid_t>(trainer), SIGKILL);  // as the OOM killer does
  EXPECT_EQ(exit_code(sched), 0);
  const auto r = *d.get_run(ok);
  EXPECT_EQ(r.status, RunStatus::Done);
  EXPECT_EQ(r.retries, 1);
  const auto log = d.leases(ok);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].outcome, "retry");
  EXPECT_TRUE(contains(log[0].reason, "killed by signal 9")) << log[0].reason;
  // The NaN run is diverged, not failed, and fits say why they leave it out.
  EXPECT_EQ(d.get_run(nan)->status, RunStatus::Diverged);
  const auto st = run_cli(dir, "status --db q.db");
  EXPECT_TRUE(contains(st.out, "diverged " + nan)) << st.out;
  EXPECT_TRUE(contains(st.out, "non-finite training loss")) << st.out;
  const auto fit = run_cli(dir, "fit --db q.db");
  EXPECT_TRUE(contains(fit.out, "diverged run " + nan)) << fit.out;
  EXPECT_TRUE(contains(fit.out, "left out of the fits: non-finite training loss")) << fit.out;
  // retry puts it back; cancel takes it out of the queue.
  EXPECT_TRUE(contains(run_cli(dir, "retry --db q.db --diverged").out, "1 run back to pending"));
  EXPECT_TRUE(contains(run_cli(dir, "cancel --db q.db --sweep q").out, "1 run cancelled"));
  EXPECT_EQ(d.get_run(nan)->status, RunStatus::Cancelled);
  const auto w = run_cli(dir, "status --db q.db --watch 1");
  EXPECT_EQ(w.rc, 0);  // nothing pending or running: the watch ends by itself
  EXPECT_TRUE(contains(w.out, "every 1 s")) << w.out;
}

TEST_F(Trained, Usr1CheckpointsAndRequeuesAndTheResumedCurveHasNoGaps) {
  plan(row("long", "", "", "softmax", 16, 64 * 3000));
  Database d = db();
  const std::string id = d.list_runs()[0].id;
  // A trainer started by hand claims the run itself.
  pid_t t = start({"--db", "q.db", "train", id, "--checkpoint-every", "0.2", "--threads", "1",
                   "--run-dir", "runs/" + id}, "t.log");
  ASSERT_GT(trainer_of(d, id), 0);
  ASSERT_TRUE(wait_for([&] { return fs::exists(dir / "runs" / id / "checkpoint.pt"); }));
  ::kill(t, SIGUSR1);  // Slurm's warning before preemption
  EXPECT_EQ(exit_code(t), 3);
  EXPECT_EQ(d.get_run(id)->status, RunStatus::Pending);
  const auto r = run_cli(dir, "--db q.db run --threads 1 -q");
  EXPECT_EQ(r.rc, 0) << r.out;
  std::ifstream log(dir / "runs" / id / "train.log");
  const std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_TRUE(contains(text, "resuming at step")) << text.substr(0, 2000);
  const auto m = d.metrics(id);
  ASSERT_FALSE(m.empty());
  for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m[i].step, static_cast<int64_t>(30 * (i + 1)));
  EXPECT_EQ(m.back().step, 3000);
}

TEST_F(Trained, StagesOpenOnlyWhenTheirGateOnTheStageBeforePasses) {
  const std::string small = row("a", "s1", "", "softmax", 16, 64 * 8) +
                            row("b", "s1", "", "softmax", 24, 64 * 8) +
                            row("c", "s1", "", "lightning", 16, 64 * 8) +
                            row("d", "s1", "", "lightning", 24, 64 * 8);
  plan(small + row("e", "s2", "loss(lightning, largest) <= 2 * loss(softmax, largest)",
                   "softmax", 32, 64 * 8) +
       row("e2", "s2", "", "softmax", 40, 64 * 16) +
       row("f", "s3", "exponent(softmax) > 100", "softmax", 48, 64 * 8));
  const auto r = run_cli(dir, "--db q.db run --threads 1 -q");
  EXPECT_EQ(r.rc, 0) << r.out;
  Database d = db();
  const auto st = d.stages("q");
  ASSERT_EQ(st.size(), 3u);
  EXPECT_EQ(st[1].state, "open");
  EXPECT_EQ(st[1].verdict, "passed");
  EXPECT_TRUE(contains(st[1].detail, "loss(lightning, largest) = ")) << st[1].detail;
  EXPECT_EQ(st[2].state, "blocked");
  EXPECT_EQ(st[2].verdict, "failed");
  EXPECT_TRUE(contains(st[2].detail, "exponent(softmax) = ")) << st[2].detail;
  for (const auto& run : d.list_runs())
    EXPECT_EQ(run.status, run.stage == "s3" ? RunStatus::Pending : RunStatus::Done) << run.name;
  const auto s = run_cli(dir, "status --db q.db");
  EXPECT_TRUE(contains(s.out, "stage s3: blocked, gate 'exponent(softmax) > 100': failed")) << s.out;
  const auto rep = run_cli(dir, "report --db q.db --out rep --bootstrap 0");
  std::ifstream html(dir / "rep" / "index.html");
  const std::string h((std::istreambuf_iterator<char>(html)), {});
  EXPECT_TRUE(contains(h, "stage s2: open, gate")) << rep.out;
}
