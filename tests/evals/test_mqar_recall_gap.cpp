// The reason hybrids exist, measured in CI: trained from scratch through
// `scalelab plan` / `run` / `eval` on the CPU, softmax attention solves a
// small MQAR setting that pure linear attention (Lightning) of the same width
// does not, for each of two seeds, with a margin.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <map>

#include "db/db.h"
#include "tests/common/run_cli.h"
#include "tests/common/temp_dir.h"

namespace {

using scalelab::testing::run_cli;

// SETTING is shared with the recorded figures (bench/RESULTS.md, "MQAR on the CPU").
constexpr const char* kSheet =
    "name,task,arch,layers,d_model,heads,vocab,seq_len,mqar_pairs,tokens,batch_tokens,lr,"
    "warmup,eval_tokens,seed\n"
    "gap,mqar,softmax|lightning,2,64,2,129,64,16,1048576,4096,0.003,0.1,4096,0|1\n";

TEST(MqarRecallGap, SoftmaxSolvesWhatLinearAttentionOfTheSameWidthDoesNot) {
  scalelab::testing::TempDir tmp("mqar_gap_" + std::to_string(::getpid()));
  const std::string dir = tmp.path().string();
  std::ofstream(dir + "/gap.csv") << kSheet;
  auto r = run_cli(dir, "--db g.db plan gap.csv");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = run_cli(dir, "--db g.db run --workers 2 --threads 1 --device cpu --yes");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = run_cli(dir, "--db g.db eval --mqar-samples 512 --threads 2");
  ASSERT_EQ(r.rc, 0) << r.out;
  scalelab::db::Database db(dir + "/g.db");
  std::map<std::string, std::string> arch;
  for (const auto& run : db.list_runs()) arch[run.id] = run.arch;
  int softmax = 0, lightning = 0;
  for (const auto& e : db.evals()) {
    ASSERT_EQ(e.eval, "mqar");
    ASSERT_EQ(e.n, 512 * 16);
    const std::string& a = arch[e.run_id];
    std::printf("MQAR pairs=16 seq_len=64 vocab=129 L2 d64: %s seed run %s accuracy %.4f\n",
                a.c_str(), e.run_id.c_str(), e.value);
    if (a == "softmax") {
      ++softmax;
      EXPECT_GE(e.value, SOFTMAX_AT_LEAST) << r.out;
    } else {
      ++lightning;
      EXPECT_LE(e.value, LINEAR_AT_MOST) << r.out;
    }
  }
  EXPECT_EQ(softmax, 2);
  EXPECT_EQ(lightning, 2);
}

}  // namespace
