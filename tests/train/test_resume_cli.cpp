// Resume exactness through the real binary: a trainer killed with SIGKILL
// three times (checkpointing every step, so each kill lands inside a metrics
// averaging window), requeued and resumed each time, logs exactly the rows of
// a run never killed: every step, loss, gradient norm and validation loss
// bit for bit. And what --threads changes: the same run with 2 threads
// against 1, within the tolerance the README states.
#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "db/db.h"
#include "tests/train/trainer_fixture.h"

namespace fs = std::filesystem;
using namespace scalelab;

namespace {

int sh(const std::string& cmd) {
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
std::string bin() { return SCALELAB_BINARY; }

// 400 steps of 8 sequences; a metrics row every 4 steps (the ~100-row default).
std::string write_sheet(const fs::path& dir, const std::string& corpus) {
  const std::string path = (dir / "resume.csv").string();
  std::ofstream(path) << "name,arch,layers,d_model,heads,vocab,seq_len,tokens,batch_tokens,"
                         "warmup,eval_every,eval_tokens,seed,data\n"
                      << "r,softmax,2,32,2,256,32,102400,256,10,100,512,5," << corpus << "\n";
  return path;
}

std::string plan(const scalelab::testing::Fixture& fx, const std::string& db_path) {
  const std::string quiet = " >> " + (fx.dir / "log.txt").string() + " 2>&1";
  EXPECT_EQ(sh(bin() + " --db " + db_path + " plan " + write_sheet(fx.dir, fx.corpus) + quiet), 0);
  db::Database db(db_path);
  return db.list_runs().at(0).id;
}

int train(const std::string& db_path, const std::string& id, const fs::path& dir, int threads,
          const fs::path& log) {
  return sh(bin() + " --db " + db_path + " train " + id + " --run-dir " + dir.string() +
            " --device cpu --threads " + std::to_string(threads) + " >> " + log.string() + " 2>&1");
}

int64_t last_step(const std::string& db_path, const std::string& id) {
  db::Database db(db_path);
  const auto m = db.metrics(id);
  return m.empty() ? 0 : m.back().step;
}

double opt_or_nan(const std::optional<double>& v) { return v ? *v : std::nan(""); }

TEST(ResumeCli, KilledThreeTimesLogsExactlyTheUninterruptedRows) {
  scalelab::testing::Fixture fx;
  const std::string straight_db = (fx.dir / "straight.db").string();
  const std::string killed_db = (fx.dir / "killed.db").string();
  const fs::path log = fx.dir / "log.txt";
  const std::string id = plan(fx, straight_db);
  ASSERT_EQ(plan(fx, killed_db), id);
  ASSERT_EQ(train(straight_db, id, fx.dir / "straight", 1, log), 0);

  const std::string dir = (fx.dir / "killed").string();
  std::vector<int64_t> killed_at;
  for (int64_t after : {61, 150, 263}) {
    const pid_t pid = fork();
    if (pid == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND);
      ::dup2(fd, 1), ::dup2(fd, 2);
      execl(bin().c_str(), bin().c_str(), "--db", killed_db.c_str(), "train", id.c_str(),
            "--run-dir", dir.c_str(), "--device", "cpu", "--checkpoint-every", "0", "--threads",
            "1", static_cast<char*>(nullptr));
      _exit(127);
    }
    int64_t step = 0;
    for (int i = 0; i < 12000 && step < after; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      step = last_step(killed_db, id);
    }
    ::kill(pid, SIGKILL);
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(st)) << "the trainer finished before it was killed";
    killed_at.push_back(last_step(killed_db, id));
    ASSERT_EQ(sh(bin() + " --db " + killed_db + " requeue " + id + " >> " + log.string() + " 2>&1"), 0);
  }
  ASSERT_EQ(train(killed_db, id, dir, 1, log), 0);
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("resuming at step"), std::string::npos) << text;

  db::Database a(straight_db), b(killed_db);
  const auto x = a.metrics(id), y = b.metrics(id);
  ASSERT_EQ(x.size(), y.size());
  ASSERT_GT(x.size(), 90u);
  for (size_t i = 0; i < x.size(); ++i) {
    SCOPED_TRACE("step " + std::to_string(x[i].step));
    EXPECT_EQ(x[i].step, y[i].step);
    EXPECT_EQ(x[i].tokens, y[i].tokens);
    // Bit for bit: the same batches from the same state, the same window.
    EXPECT_EQ(opt_or_nan(x[i].train_loss), opt_or_nan(y[i].train_loss));
    EXPECT_EQ(opt_or_nan(x[i].grad_norm), opt_or_nan(y[i].grad_norm));
    EXPECT_EQ(opt_or_nan(x[i].lr), opt_or_nan(y[i].lr));
    if (x[i].val_loss || y[i].val_loss) EXPECT_EQ(opt_or_nan(x[i].val_loss), opt_or_nan(y[i].val_loss));
  }
  EXPECT_EQ(*a.get_run(id)->final_loss, *b.get_run(id)->final_loss);
  EXPECT_EQ(b.get_run(id)->attempts, 4);
  std::printf("resume: killed at logged steps %lld, %lld, %lld; %zu rows identical\n",
              static_cast<long long>(killed_at[0]), static_cast<long long>(killed_at[1]),
              static_cast<long long>(killed_at[2]), x.size());
}

// --threads is not part of a run's identity, and CPU kernels may sum in a
// thread-dependent order; what the README promises is this tolerance on every
// logged loss (measured on this run: identical).
TEST(ResumeCli, ThreadCountChangesLossesOnlyWithinTheStatedTolerance) {
  scalelab::testing::Fixture fx;
  const std::string one = (fx.dir / "one.db").string(), two = (fx.dir / "two.db").string();
  const fs::path log = fx.dir / "log.txt";
  const std::string id = plan(fx, one);
  ASSERT_EQ(plan(fx, two), id);
  ASSERT_EQ(train(one, id, fx.dir / "one", 1, log), 0);
  ASSERT_EQ(train(two, id, fx.dir / "two", 2, log), 0);
  db::Database a(one), b(two);
  const auto x = a.metrics(id), y = b.metrics(id);
  ASSERT_EQ(x.size(), y.size());
  double worst = 0;
  int64_t worst_step = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double rel = std::abs(*x[i].train_loss - *y[i].train_loss) / std::abs(*x[i].train_loss);
    if (rel > worst) worst = rel, worst_step = x[i].step;
  }
  const double final_rel = std::abs(*a.get_run(id)->final_loss - *b.get_run(id)->final_loss) /
                           *a.get_run(id)->final_loss;
  std::printf("threads 1 vs 2: largest relative train-loss difference %.3g (step %lld), final "
              "validation loss %.3g\n",
              worst, static_cast<long long>(worst_step), final_rel);
  RecordProperty("worst_rel", std::to_string(worst));
  EXPECT_LT(worst, 1e-4);
  EXPECT_LT(final_rel, 1e-4);
}

}  // namespace
