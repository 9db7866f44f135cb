// Data parallel through the real binary, two CPU processes on gloo (as
// torchrun would start them): a 2-process run equals the 1-process run of the
// same global batch, step by step, within float tolerance (only the order of
// the sums differs); and a 2-process run stopped by SIGTERM resumes on one
// process and still matches. Small buckets, so the gradients travel in many
// all-reduces launched from the backward's hooks.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <thread>

#include "db/db.h"
#include "tests/train/trainer_fixture.h"

namespace fs = std::filesystem;
using namespace scalelab;

namespace {

// Tolerance on each logged loss: the float sums of 2 x 4 sequences against
// 8, through 60 AdamW steps (measured max difference: see the test output).
constexpr double kLossTol = 2e-4;

std::string read_log(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t n = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Starts `scalelab --db DB train RUN ...` with RANK of WORLD (world 0: no
// distributed variables at all); output to LOG.
pid_t start(const std::string& db, const std::string& run, const std::string& run_dir,
            int rank, int world, int port, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (world > 0) {
    ::setenv("RANK", std::to_string(rank).c_str(), 1);
    ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
    ::setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
    ::setenv("MASTER_ADDR", "127.0.0.1", 1);
    ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
  }
  FILE* f = std::freopen(log.c_str(), "a", stderr);
  (void)f;
  ::dup2(2, 1);
  const std::string bin = SCALELAB_BINARY;
  ::execl(bin.c_str(), bin.c_str(), "--db", db.c_str(), "train", run.c_str(), "--device", "cpu",
          "--threads", "1", "--run-dir", run_dir.c_str(), "--bucket-mb", "0.01",
          "--checkpoint-every", "1000", static_cast<char*>(nullptr));
  std::_Exit(127);
}

int wait_exit(pid_t pid) {
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string make_db(const fs::path& path, const spec::RunSpec& s) {
  db::Database db(path.string());
  return scalelab::testing::add_run(db, s);
}

std::vector<db::Metric> metrics(const fs::path& path, const std::string& run) {
  db::Database db(path.string());
  return db.metrics(run);
}

// Max |a - b| over the train and validation losses of matching steps.
double max_loss_diff(const std::vector<db::Metric>& a, const std::vector<db::Metric>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    EXPECT_EQ(a[i].step, b[i].step);
    EXPECT_EQ(a[i].tokens, b[i].tokens);
    d = std::max(d, std::abs(*a[i].train_loss - *b[i].train_loss));
    EXPECT_EQ(a[i].val_loss.has_value(), b[i].val_loss.has_value()) << "step " << a[i].step;
    if (a[i].val_loss && b[i].val_loss) d = std::max(d, std::abs(*a[i].val_loss - *b[i].val_loss));
  }
  return d;
}

}  // namespace

TEST(Distributed, TwoGlooProcessesEqualOneWithTheSameGlobalBatch) {
  scalelab::testing::Fixture fx;
  const auto s = scalelab::testing::tiny_spec(fx.corpus, 60);  // 8 sequences a step
  const std::string log = (fx.dir / "log.txt").string();

  const fs::path one = fx.dir / "one.db";
  const std::string run = make_db(one, s);
  ASSERT_EQ(wait_exit(start(one.string(), run, (fx.dir / "r1").string(), 0, 0, 0, log)), 0);
  const auto base = metrics(one, run);
  ASSERT_EQ(base.size(), 60u);
  EXPECT_LT(*base.back().train_loss, *base.front().train_loss - 0.5);

  const fs::path two = fx.dir / "two.db";
  ASSERT_EQ(make_db(two, s), run);
  const int port = free_port();
  const pid_t r0 = start(two.string(), run, (fx.dir / "r2").string(), 0, 2, port, log);
  const pid_t r1 = start(two.string(), run, (fx.dir / "r2").string(), 1, 2, port, log);
  EXPECT_EQ(wait_exit(r0), 0) << read_log(log);
  EXPECT_EQ(wait_exit(r1), 0);
  const double d = max_loss_diff(base, metrics(two, run));
  std::printf("max |loss(2 gloo processes) - loss(1 process)| over 60 steps: %.3g\n", d);
  EXPECT_LT(d, kLossTol);

  // What rank 0 recorded about the run: 2 processes on gloo, the grads in
  // several buckets, some of them started while the backward still ran.
  db::Database db(two.string());
  const auto perf = nlohmann::json::parse(db.get_run(run)->perf_json);
  EXPECT_EQ(perf["world_size"], 2);
  EXPECT_EQ(perf["dist_backend"], "gloo");
  EXPECT_GT(perf["grad_buckets"].get<int>(), 2);
  EXPECT_GT(perf["grad_buckets_started_in_backward"].get<int>(), 0);
  EXPECT_EQ(db.get_run(run)->status, db::RunStatus::Done);
}

// Checkpoints are written once (rank 0) and hold nothing of the process
// count: a 2-process run stopped by SIGTERM resumes on 1 process.
TEST(Distributed, StoppedOnTwoProcessesResumesOnOne) {
  scalelab::testing::Fixture fx;
  const auto s = scalelab::testing::tiny_spec(fx.corpus, 60);
  const std::string log = (fx.dir / "log.txt").string();
  const fs::path one = fx.dir / "one.db", two = fx.dir / "two.db";
  const std::string run = make_db(one, s);
  ASSERT_EQ(wait_exit(start(one.string(), run, (fx.dir / "r1").string(), 0, 0, 0, log)), 0);
  ASSERT_EQ(make_db(two, s), run);

  const std::string dir = (fx.dir / "r2").string();
  const int port = free_port();
  const pid_t r0 = start(two.string(), run, dir, 0, 2, port, log);
  const pid_t r1 = start(two.string(), run, dir, 1, 2, port, log);
  // As torchrun or Slurm would: the signal reaches every rank, after step 5.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (metrics(two, run).size() < 5 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(r0, SIGTERM);
  ::kill(r1, SIGTERM);
  ASSERT_EQ(wait_exit(r0), 3) << "rank 0 should have checkpointed and stopped\n"
                              << read_log(log);
  EXPECT_EQ(wait_exit(r1), 3);
  ASSERT_TRUE(fs::exists(fs::path(dir) / "checkpoint.pt"));
  const size_t stopped_at = metrics(two, run).size();
  EXPECT_LT(stopped_at, 60u);

  ASSERT_EQ(wait_exit(start(two.string(), run, dir, 0, 0, 0, log)), 0);
  const double d = max_loss_diff(metrics(one, run), metrics(two, run));
  std::printf("stopped at step %zu on 2 processes, resumed on 1: max loss difference %.3g\n",
              stopped_at, d);
  EXPECT_LT(d, kLossTol);
}
