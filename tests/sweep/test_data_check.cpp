// The planner's data checks: the data must exist, agree with the sheet's
// vocab, hold a window of every seq_len and the held-out tokens eval_tokens
// asks for; a blank vocab comes from the manifest; the plan reports epochs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/manifest.h"
#include "data/sink.h"
#include "sweep/planner.h"
#include "tests/common/temp_dir.h"

namespace fs = std::filesystem;
namespace sw = scalelab::sweep;
namespace data = scalelab::data;

namespace {

struct DataCheck : ::testing::Test {
  scalelab::testing::TempDir tmp{"data_check"};
  fs::path dir = tmp.path();
  void SetUp() override { ::setenv("SCALELAB_CACHE", (dir / "cache").c_str(), 1); }
  void TearDown() override { ::unsetenv("SCALELAB_CACHE"); }

  // A shard set as `data prepare` leaves it, for a tokenizer of VOCAB.
  std::string shards(const std::string& name, int64_t vocab, int64_t train, int64_t val) {
    const fs::path d = dir / name;
    fs::create_directories(d);
    data::Manifest m;
    m.tokenizer = {"sentencepiece", "bpe", "tokenizer.model", vocab, 2};
    std::ofstream(d / "tokenizer.model") << "a model";
    for (const auto& [split, n] : {std::pair{data::Split::Train, train}, {data::Split::Validation, val}}) {
      data::SplitSink sink(d.string(), split, 2, 1 << 20);
      std::vector<uint32_t> toks(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) toks[static_cast<size_t>(i)] = static_cast<uint32_t>(i % vocab);
      sink.write(toks.data(), n, true, 2);
      for (auto& e : sink.close()) m.shards.push_back(e);
    }
    std::ofstream(d / "manifest.json") << data::to_json(m).dump();
    return "shards:" + d.string();
  }
  sw::Plan plan(const std::string& text) {
    return sw::plan_sheet(sw::parse_sheet(text, "s.csv", ','));
  }
  std::string errors_of(const std::string& text) {
    try {
      plan(text);
    } catch (const sw::SheetErrors& e) {
      return e.what();
    }
    return "";
  }
};

const char* kHeader = "name,arch,d_model,layers,heads,vocab,seq_len,tokens,batch_tokens,eval_tokens,data\n";

}  // namespace

TEST_F(DataCheck, BlankVocabComesFromTheManifestAndAMismatchNamesTheRow) {
  const std::string src = shards("s", 1000, 50000, 5000);
  const sw::Plan p = plan(std::string(kHeader) + "a,softmax,64,2,2,,128,200k,4096,1024," + src + "\n");
  ASSERT_EQ(p.runs.size(), 1u);
  EXPECT_EQ(p.runs[0].spec.model.vocab, 1000);
  EXPECT_EQ(p.runs[0].spec.data, src);
  const std::string e = errors_of(std::string(kHeader) + "a,softmax,64,2,2,,128,200k,4096,1024," + src +
                                  "\nb,softmax,64,2,2,512,128,200k,4096,1024," + src + "\n");
  EXPECT_NE(e.find("s.csv:3:vocab: vocab 512 disagrees with the data: " + (dir / "s").string() +
                   "/manifest.json has a tokenizer of vocab 1000"),
            std::string::npos) << e;
  EXPECT_EQ(e.find("s.csv:2:"), std::string::npos) << e;
}

TEST_F(DataCheck, MissingDataShortSplitsAndEvalTokensAreNamed) {
  const std::string src = shards("s", 1000, 50000, 5000);
  const std::string e = errors_of(
      std::string(kHeader) + "gone,softmax,64,2,2,,128,200k,4096,1024,shards:" + (dir / "nowhere").string() +
      "\nlong,softmax,64,2,2,,8192,200k,8192,8192," + src + "\neval,softmax,64,2,2,,128,200k,4096,1M," + src +
      "\n");
  EXPECT_NE(e.find("s.csv:2:data: " + (dir / "nowhere").string() + ": no such folder of shards"), std::string::npos) << e;
  EXPECT_NE(e.find("s.csv:3:seq_len: seq_len 8192 is too long for the data: " + (dir / "s").string() +
                   "'s validation split holds 5001 tokens"),
            std::string::npos) << e;
  EXPECT_NE(e.find("s.csv:4:eval_tokens: eval_tokens 1000000 needs 7812 held-out windows of seq_len 128; "),
            std::string::npos) << e;
}

TEST_F(DataCheck, ByteLevelTextNeedsAVocabAboveItsLargestByte) {
  std::ofstream(dir / "t.txt") << std::string(300000, 'z');  // 'z' = 122
  const std::string ok = std::string(kHeader) + "a,softmax,64,2,2,128,64,100k,4096,512,text:" + (dir / "t.txt").string() + "\n";
  EXPECT_EQ(plan(ok).runs.size(), 1u);
  const std::string e = errors_of(std::string(kHeader) + "a,softmax,64,2,2,100,64,100k,4096,512,text:" +
                                  (dir / "t.txt").string() + "\n");
  EXPECT_NE(e.find("s.csv:2:vocab: vocab 100 is too small for the data: " + (dir / "t.txt").string() +
                   " holds token 122"),
            std::string::npos) << e;
}

TEST_F(DataCheck, ThePlanSaysHowManyEpochsRunsRepeat) {
  const std::string src = shards("s", 1000, 128 * 100 + 1, 5000);  // 100 windows of 128 = 12,800 tokens an epoch
  const sw::Plan p = plan(std::string(kHeader) + "a,softmax,64,2,2,,128,6400|12800|51200,4096,1024," + src + "\n");
  ASSERT_EQ(p.data.size(), 1u);
  const sw::DataUse& u = p.data[0];
  EXPECT_EQ(u.source, src);
  EXPECT_EQ(u.train_tokens, 128 * 100 + 2);  // with the end-of-text before the document
  EXPECT_EQ(u.runs, 3);
  EXPECT_EQ(u.repeating, 1);
  EXPECT_DOUBLE_EQ(u.max_epochs, 4.0);
  EXPECT_EQ(u.vocab, 1000);
  std::ostringstream os;
  sw::print_data_uses(os, p);
  EXPECT_EQ(os.str(), "\ndata " + src + ": 12.8k train + 5k validation tokens (vocab 1000); 1 of 3 runs repeat it; "
                      "the largest (row 2) 4 epochs\n");
}
