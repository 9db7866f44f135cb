// `scalelab eval` through the real binary: a trained LM run gets S-NIAH and
// loss-by-position rows, an mqar run its accuracy; bad input (an unknown
// run, one not done, a bad option, a context too short for a needle) is exit
// code 2 and writes nothing.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "db/db.h"
#include "tests/common/run_cli.h"
#include "tests/common/temp_dir.h"

namespace {

using scalelab::testing::run_cli;

class EvalCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new scalelab::testing::TempDir("eval_cli_" + std::to_string(::getpid()));
    const std::string dir = tmp_->path().string();
    std::ofstream corpus(dir + "/corpus.txt");
    for (int i = 0; i < 3000; ++i) corpus << "the quick brown fox " << i % 97 << " jumps over\n";
    std::ofstream sheet(dir + "/s.csv");
    sheet << "name,task,arch,layers,d_model,heads,vocab,seq_len,mqar_pairs,tokens,batch_tokens,"
             "eval_tokens,data\n"
             "lm,,softmax,2,32,2,,256,,10240,1024,1024,corpus.txt\n"
             "recall,mqar,lightning,2,32,2,33,32,8,4096,512,512,\n";
    std::ofstream later(dir + "/later.csv");
    later << "name,arch,layers,d_model,heads,seq_len,tokens,batch_tokens,eval_tokens,data\n"
             "later,softmax,2,32,2,64,2048,512,1024,corpus.txt\n";
    sheet.close();
    later.close();
    auto r = run_cli(dir, "--db s.db plan s.csv");
    ASSERT_EQ(r.rc, 0) << r.out;
    r = run_cli(dir, "--db s.db run --workers 2 --threads 1 --device cpu");
    ASSERT_EQ(r.rc, 0) << r.out;
    r = run_cli(dir, "--db s.db plan later.csv");
    ASSERT_EQ(r.rc, 0) << r.out;
  }
  static void TearDownTestSuite() { delete tmp_; }
  static std::string dir() { return tmp_->path().string(); }
  static std::string id_of(const std::string& name) {
    scalelab::db::Database db(dir() + "/s.db");
    for (const auto& r : db.list_runs())
      if (r.name == name) return r.id;
    return "";
  }
  static scalelab::testing::TempDir* tmp_;
};
scalelab::testing::TempDir* EvalCli::tmp_ = nullptr;

TEST_F(EvalCli, BadInputIsExitTwoAndWritesNothing) {
  const std::string lm = id_of("lm");
  struct Case {
    std::string args, says;
  } cases[] = {
      {"eval nosuchrun", "no run 'nosuchrun'"},
      {"eval " + id_of("later"), "is pending, not done"},
      {"eval " + lm + " --depths 0,1.5", "--depths: 1.5 is outside [0, 1]"},
      {"eval " + lm + " --depths 0,x", "--depths: 'x' is not a number"},
      {"eval " + lm + " --tasks sniah,recall", "unknown task 'recall'"},
      {"eval " + lm + " --contexts 40", "leave no room for a haystack"},
      {"eval " + lm + " --variants passkey/essay", "unknown S-NIAH variant 'passkey/essay'"},
      {"eval " + lm + " --samples 0", "--samples must be >= 1"},
      {"eval " + lm + " --runs-dir elsewhere", "no trained weights at elsewhere/"},
      {"eval " + id_of("recall") + " --tasks sniah", "none of --tasks sniah applies"},
      {"eval --sweep nosuch", "nosuch"},
      {"eval --samples", "--samples"},
  };
  for (const Case& c : cases) {
    const auto r = run_cli(dir(), "--db s.db " + c.args);
    EXPECT_EQ(r.rc, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.args << "\n" << r.out;
    EXPECT_EQ(r.out.find("Exception raised"), std::string::npos) << r.out;
  }
  const auto r = run_cli(dir(), "--db missing.db eval");
  EXPECT_EQ(r.rc, 2) << r.out;
  scalelab::db::Database db(dir() + "/s.db");
  EXPECT_TRUE(db.evals().empty());
}

TEST_F(EvalCli, StoresRecallAndPositionLossBesideTheRuns) {
  const auto r = run_cli(dir(), "--db s.db eval --samples 2 --batch 8");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("sniah passkey/repeat context 512 (beyond training)"), std::string::npos) << r.out;
  scalelab::db::Database db(dir() + "/s.db");
  const std::string lm = id_of("lm"), recall = id_of("recall");
  int sniah = 0, position = 0, mqar = 0;
  for (const auto& e : db.evals()) {
    EXPECT_GE(e.value, 0);
    if (e.eval == "sniah") {
      ++sniah;
      EXPECT_EQ(e.run_id, lm);
      EXPECT_EQ(e.n, 2);
      EXPECT_LE(e.value, 1);
      EXPECT_EQ(nlohmann::json::parse(e.detail)["beyond_training"].get<bool>(), e.context > 256);
    } else if (e.eval == "position_loss") {
      ++position;
      EXPECT_EQ(e.run_id, lm);
      EXPECT_LT(e.value, 6.0);  // well below uniform over 256 bytes (5.55 nats) after training
    } else if (e.eval == "mqar") {
      ++mqar;
      EXPECT_EQ(e.run_id, recall);
      EXPECT_EQ(e.variant, "pairs=8");
      EXPECT_EQ(e.n, 512 * 8);
      EXPECT_LE(e.value, 1);
    }
  }
  // The defaults keep the contexts of T/4..2T at least twice the needle and
  // question: passkey (~85 byte tokens) gets 256 and 512, word (~140) only 512:
  // 5 contexts x 5 depths.
  EXPECT_EQ(sniah, 5 * 5);
  EXPECT_EQ(position, 9);  // 1, 2, 3-4, ..., 129-256
  EXPECT_EQ(mqar, 1);
  // Re-running replaces, never piles up.
  ASSERT_EQ(run_cli(dir(), "--db s.db -q eval " + lm + " --tasks position").rc, 0);
  EXPECT_EQ(db.evals().size(), static_cast<size_t>(sniah + position + mqar));
  const auto st = run_cli(dir(), "--db s.db status");
  EXPECT_EQ(st.rc, 0) << st.out;
  EXPECT_NE(st.out.find("evals"), std::string::npos) << st.out;
}

}  // namespace
