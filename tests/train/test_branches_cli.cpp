// WSD branches through the real binary: a parent killed with SIGKILL after its
// first branch point, then `scalelab run` on the same database. The recorded
// branch point, the lineage and every branch survive, and the branches' final
// losses equal those of the same sheet trained without a kill.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include "db/db.h"
#include "db/lineage.h"
#include "tests/train/trainer_fixture.h"

namespace fs = std::filesystem;
using namespace scalelab;

namespace {

int sh(const std::string& cmd) {
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// One parent (20 steps) with branches at 10 and 20 steps.
std::string write_sheet(const fs::path& dir, const std::string& corpus) {
  const std::string path = (dir / "wsd.csv").string();
  std::ofstream(path) << "name,arch,layers,d_model,heads,vocab,seq_len,tokens,batch_tokens,"
                         "warmup,schedule,branches,eval_every,eval_tokens,seed,data\n"
                      << "w,softmax,2,32,2,256,32,5120,256,2,wsd,0.5|1,5,512,3," << corpus << "\n";
  return path;
}

std::string bin() { return SCALELAB_BINARY; }

std::map<std::string, double> branch_losses(const std::string& db_path) {
  db::Database db(db_path);
  std::map<std::string, double> out;
  for (const db::Lineage& l : db::lineages(db))
    if (!l.parent_id.empty()) out[l.id] = *db.get_run(l.id)->final_loss;
  return out;
}

TEST(BranchesCli, LineageSurvivesAKilledParent) {
  scalelab::testing::Fixture fx;
  const std::string sheet = write_sheet(fx.dir, fx.corpus);
  const std::string clean = (fx.dir / "clean.db").string(), killed = (fx.dir / "killed.db").string();
  const std::string quiet = " > " + (fx.dir / "log.txt").string() + " 2>&1";
  ASSERT_EQ(sh(bin() + " --db " + clean + " plan " + sheet + quiet), 0);
  ASSERT_EQ(sh("cd " + fx.dir.string() + " && " + bin() + " --db " + clean +
               " run --workers 2 --runs-dir clean_runs" + quiet), 0);

  ASSERT_EQ(sh(bin() + " --db " + killed + " plan " + sheet + quiet), 0);
  std::string parent;
  {
    db::Database db(killed);
    for (const db::Lineage& l : db::lineages(db))
      if (l.is_parent) parent = l.id;
  }
  ASSERT_FALSE(parent.empty());
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string dir = (fx.dir / "killed_runs" / parent).string();
    execl(bin().c_str(), bin().c_str(), "--db", killed.c_str(), "train", parent.c_str(),
          "--run-dir", dir.c_str(), "--device", "cpu", "--checkpoint-every", "0", "--threads", "1",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  bool point = false;
  for (int i = 0; i < 6000 && !point; ++i) {  // the first branch point is at step 8
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    db::Database db(killed);
    point = db::branch_point(db, parent, 8).has_value();
  }
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  ASSERT_TRUE(point) << "the parent never recorded its first branch point";
  {
    db::Database db(killed);
    EXPECT_EQ(db.get_run(parent)->status, db::RunStatus::Running);  // as a dead node leaves it
    EXPECT_EQ(db::lineages(db).size(), 3u);
  }
  // The dead trainer's pid is on this host: the next `run` reclaims its run at once.
  ASSERT_EQ(sh("cd " + fx.dir.string() + " && " + bin() + " --db " + killed +
               " run --workers 2 --runs-dir killed_runs" + quiet), 0);
  db::Database db(killed);
  for (const db::Run& r : db.list_runs()) EXPECT_EQ(r.status, db::RunStatus::Done) << r.id;
  EXPECT_TRUE(db::branch_point(db, parent, 16).has_value());
  EXPECT_EQ(db.get_run(parent)->attempts, 2);
  std::ifstream log(fx.dir / "killed_runs" / parent / "train.log");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("resuming at step"), std::string::npos) << text;  // its own checkpoint
  const auto a = branch_losses(clean), b = branch_losses(killed);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a, b);  // same ids (same sheet), same final losses
}

}  // namespace
