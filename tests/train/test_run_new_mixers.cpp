// `scalelab plan` then `scalelab run` on the CPU, through the real binary,
// for the mixers built on the registry after the first four: Gated DeltaNet,
// sliding-window attention and their hybrids each train to done.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include "db/db.h"
#include "tests/common/temp_dir.h"

namespace {

int run_cli(const std::string& dir, const std::string& args, std::string* out) {
  const std::string cmd = "cd '" + dir + "' && '" SCALELAB_BINARY "' " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(RunCli, GdnSwaAndHybridsTrainToDone) {
  scalelab::testing::TempDir tmp("run_new_mixers");
  const std::string dir = tmp.path().string();
  {
    std::ofstream corpus(dir + "/corpus.txt");
    for (int i = 0; i < 2000; ++i) corpus << "the quick brown fox " << i % 97 << " jumps\n";
    std::ofstream sheet(dir + "/s.csv");
    sheet << "name,arch,layers,d_model,heads,swa_window,seq_len,tokens,batch_tokens,eval_every,"
             "eval_tokens,data\n"
             "a,\"gdn|hybrid(gdn,softmax@3:1)\",8,16,2,,32,2560,256,5,512,corpus.txt\n"
             "b,\"swa|hybrid(lightning,swa@7:1)\",8,16,2,8,32,2560,256,5,512,corpus.txt\n";
  }
  std::string out;
  ASSERT_EQ(run_cli(dir, "--db s.db plan s.csv", &out), 0) << out;
  ASSERT_EQ(run_cli(dir, "--db s.db run --workers 2 --threads 1 --device cpu", &out), 0) << out;
  scalelab::db::Database db(dir + "/s.db");
  const auto runs = db.list_runs();
  ASSERT_EQ(runs.size(), 4u);
  for (const auto& r : runs) {
    SCOPED_TRACE(r.arch);
    EXPECT_EQ(r.status, scalelab::db::RunStatus::Done) << r.error << "\n" << out;
    const auto m = db.metrics(r.id);
    ASSERT_FALSE(m.empty());
    EXPECT_EQ(m.back().step, 10);
    EXPECT_LT(*m.back().train_loss, *m.front().train_loss);
  }
}

}  // namespace
