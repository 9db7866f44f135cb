// The fault test of issue 15: 200 tiny runs, 2 schedulers on one database,
// 20 random kill -9 of trainers and schedulers (a killed scheduler is started
// again at once). Afterwards every run is done exactly once and no two
// trainers held a run at the same time (checked from the lease log), every
// reclaimed or retried lease is explained by one of the kills, no curve has a
// gap or a duplicated step, and no run is left running. The figures are
// printed (ctest -V, or the test binary run by hand).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "db/db.h"
#include "tests/common/cli.h"
#include "tests/common/temp_dir.h"

namespace fs = std::filesystem;
using namespace scalelab;
namespace st = scalelab::testing;

namespace {

constexpr int kRuns = 200, kKills = 20, kSteps = 6, kBatchTokens = 32;

// The smallest model the trainer takes (1 layer, width 8, 8 tokens a row),
// 6 steps, one metric row a step, held-out loss at the end only.
std::string sheet(const std::string& corpus) {
  return "name,arch,layers,d_model,heads,seq_len,tokens,batch_tokens,warmup,eval_every,"
         "eval_tokens,seed,data\n"
         "tiny,softmax,1,8,1,8," + std::to_string(kSteps * kBatchTokens) + "," +
         std::to_string(kBatchTokens) + ",1," + std::to_string(kSteps) + ",32,0.." +
         std::to_string(kRuns - 1) + "+1," + corpus + "\n";
}

const std::vector<std::string> kScheduler = {
    "--db", "f.db", "run", "-q", "--workers", "2", "--threads", "1", "--heartbeat-every", "1",
    "--stale-after", "120", "--max-retries", "20", "--retry-backoff", "0",
    "--checkpoint-every", "0.05"};

struct Kill {
  int64_t pid;
  bool scheduler;
};

// The trainers the schedulers of DIR have started, their orphans included
// (from /proc: the children of the schedulers, and `scalelab train` processes
// working in DIR whose scheduler was killed).
std::vector<int64_t> live_trainers(const fs::path& dir, const pid_t* sched, int n) {
  std::vector<int64_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string s;
    std::getline(in, s);
    const size_t p = s.rfind(')');
    if (p == std::string::npos) continue;
    char state = 0;
    int64_t ppid = 0;
    std::istringstream f(s.substr(p + 2));
    f >> state >> ppid;
    if (state == 'Z') continue;
    bool child = false;
    for (int i = 0; i < n; ++i) child = child || ppid == sched[i];
    std::error_code ec;
    std::ifstream cmd(e.path() / "cmdline");
    const std::string args((std::istreambuf_iterator<char>(cmd)), {});
    const bool orphan = args.find(std::string("train") + '\0') != std::string::npos &&
                        fs::read_symlink(e.path() / "cwd", ec) == dir;
    if (child || orphan) out.push_back(std::stoll(name));
  }
  return out;
}

int64_t unfinished(db::Database& d) {
  int64_t n = 0;
  for (const db::StageCount& c : d.stage_counts())
    if (c.status == db::RunStatus::Pending || c.status == db::RunStatus::Running) n += c.n;
  return n;
}

}  // namespace

TEST(Faults, TwoHundredRunsTwoSchedulersTwentyKills) {
  st::TempDir tmp("faults");
  const fs::path dir = tmp.path();
  const std::string corpus = (dir / "corpus.txt").string();
  {
    std::ofstream out(corpus);
    for (int i = 0; i < 400; ++i) out << "the quick brown fox " << i % 97 << " jumps over the lazy dog\n";
  }
  std::ofstream(dir / "f.csv") << sheet(corpus);
  ASSERT_EQ(st::run_cli(dir, "plan f.csv --db f.db").rc, 0);
  db::Database d((dir / "f.db").string());
  ASSERT_EQ(d.list_runs().size(), static_cast<size_t>(kRuns));
  const auto t0 = std::chrono::steady_clock::now();

  pid_t sched[2] = {st::spawn_cli(dir, kScheduler, "s0.log"),
                    st::spawn_cli(dir, kScheduler, "s1.log")};
  std::mt19937 rng(15);
  std::vector<Kill> kills;
  while (static_cast<int>(kills.size()) < kKills && unfinished(d) > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<>(300, 1500)(rng)));
    const auto trainers = live_trainers(dir, sched, 2);
    const bool hit_scheduler = trainers.empty() || std::uniform_int_distribution<>(0, 1)(rng) == 0;
    if (hit_scheduler) {
      const int s = std::uniform_int_distribution<>(0, 1)(rng);
      ::kill(sched[s], SIGKILL);
      st::wait_exit(sched[s]);
      kills.push_back({sched[s], true});
      sched[s] = st::spawn_cli(dir, kScheduler, "s" + std::to_string(s) + ".log");
    } else {
      const int64_t pid = trainers[std::uniform_int_distribution<size_t>(0, trainers.size() - 1)(rng)];
      ::kill(static_cast<pid_t>(pid), SIGKILL);
      kills.push_back({pid, false});
    }
  }
  for (pid_t p : sched) st::wait_exit(p);
  // Orphans of killed schedulers may still be finishing; a scheduler started
  // after them picks up whatever is left.
  for (int round = 0; round < 30 && unfinished(d) > 0; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    st::wait_exit(st::spawn_cli(dir, kScheduler, "final.log"));
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::set<int64_t> killed_trainers, killed_schedulers;
  for (const Kill& k : kills) (k.scheduler ? killed_schedulers : killed_trainers).insert(k.pid);
  int done = 0, duplicates = 0, overlaps = 0, unexplained = 0, lost_steps = 0, extra_steps = 0,
      left_running = 0, leases = 0, reclaimed = 0, retried = 0;
  for (const db::Run& r : d.list_runs()) {
    done += r.status == db::RunStatus::Done;
    left_running += r.status == db::RunStatus::Running;
    const auto log = d.leases(r.id);
    leases += static_cast<int>(log.size());
    int done_leases = 0;
    for (size_t k = 0; k < log.size(); ++k) {
      const db::LeaseRecord& l = log[k];
      done_leases += l.outcome == "done";
      if (k + 1 < log.size() && (l.ended_at.empty() || l.ended_at > log[k + 1].claimed_at ||
                                 l.last_write_at > l.ended_at))
        ++overlaps;
      if (l.outcome == "reclaimed") {
        ++reclaimed;
        // Reclaimed at once only when the claimer is gone and the trainer too (or never attached).
        if (!killed_schedulers.count(l.claimer_pid) ||
            (l.pid > 0 && !killed_trainers.count(l.pid) && db::process_alive(l.pid, 0))) {
          ++unexplained;
          ADD_FAILURE() << r.id << " lease " << l.token << " reclaimed: " << l.reason;
        }
      } else if (l.outcome == "retry") {
        ++retried;
        if (!killed_trainers.count(l.pid)) {
          ++unexplained;
          ADD_FAILURE() << r.id << " lease " << l.token << " retried, pid " << l.pid << ": " << l.reason;
        }
      } else if (l.outcome != "done" && l.outcome != "released") {
        ++unexplained;  // failed, expired, or still open: none should happen here
        ADD_FAILURE() << r.id << " lease " << l.token << ": " << l.outcome << " " << l.reason;
      }
    }
    duplicates += done_leases > 1;
    const auto m = d.metrics(r.id);
    std::set<int64_t> steps;
    for (const db::Metric& x : m) {
      steps.insert(x.step);
      EXPECT_EQ(x.tokens, x.step * kBatchTokens) << r.id;
    }
    extra_steps += static_cast<int>(m.size() - steps.size());
    for (int s = 1; s <= kSteps; ++s) lost_steps += steps.count(s) == 0;
    for (int64_t s : steps) extra_steps += s < 1 || s > kSteps;
  }
  std::printf("fault test: %d runs, %zu kills (%zu trainers, %zu schedulers), %d done, %d leases "
              "(%d reclaimed at once, %d retried), duplicates %d, overlapping leases %d, "
              "unexplained %d, lost steps %d, duplicated steps %d, left running %d, %.0f s\n",
              kRuns, kills.size(), killed_trainers.size(), killed_schedulers.size(), done, leases,
              reclaimed, retried, duplicates, overlaps, unexplained, lost_steps, extra_steps,
              left_running, wall);
  EXPECT_EQ(kills.size(), static_cast<size_t>(kKills));
  EXPECT_EQ(done, kRuns);
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(overlaps, 0);
  EXPECT_EQ(unexplained, 0);
  EXPECT_EQ(lost_steps, 0);
  EXPECT_EQ(extra_steps, 0);
  EXPECT_EQ(left_running, 0);
}
