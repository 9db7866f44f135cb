// `scalelab data` as a user runs it: the summary on stdout, the progress line
// on stderr, exit code 2 and nothing written for bad input, `verify`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/common/run_cli.h"
#include "tests/common/temp_dir.h"
#include "tests/data/helpers.h"

namespace fs = std::filesystem;
namespace st = scalelab::testing;
using st::run_cli;

TEST(DataCli, PrepareVerifyAndBadInput) {
  st::TempDir tmp("data_cli");
  const fs::path d = tmp.path();
  std::string text;
  for (const std::string& doc : st::documents(300)) text += doc + "\n";
  st::write_text(d / "c.txt", text);
  auto r = run_cli(d, "data prepare c.txt --out sh --text-docs paragraph --val-fraction 0.1 --shard-tokens 5k",
                   "err.txt");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("sh: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("use it in a sheet as data = shards:sh"), std::string::npos) << r.out;
  std::ifstream err(d / "err.txt");
  const std::string progress((std::istreambuf_iterator<char>(err)), {});
  EXPECT_NE(progress.find("prepare: "), std::string::npos) << progress;
  EXPECT_NE(progress.find("(100%)"), std::string::npos) << progress;
  EXPECT_NE(progress.find("tok/s"), std::string::npos) << progress;
  EXPECT_TRUE(fs::exists(d / "sh" / "train_000001.bin"));  // 5k tokens a shard

  r = run_cli(d, "data verify sh");
  EXPECT_EQ(r.rc, 0) << r.out;
  {  // One flipped token: verify names the shard.
    std::fstream f(d / "sh" / "train_000001.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2000);
    f.put('\x07');
  }
  r = run_cli(d, "data verify sh");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("sh/train_000001.bin: checksum differs from the manifest"), std::string::npos) << r.out;

  st::write_text(d / "bad.jsonl", "{\"text\": 3}\n");
  r = run_cli(d, "data prepare bad.jsonl --out out2");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("scalelab: error: bad.jsonl:1: has no string field 'text'"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(d / "out2"));
  r = run_cli(d, "data prepare c.txt --out out3 --shard-tokens lots");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("--shard-tokens lots"), std::string::npos) << r.out;
}

// Done-when of the data work, on the CPU: a sweep plans and trains from shards
// made by `data prepare` (vocab from the manifest) and from llm.c-format shards.
TEST(DataCli, ASweepTrainsFromPreparedAndLlmcShards) {
#ifndef SCALELAB_HAVE_TORCH
  // Only the sanitizer build (scripts/sanitize.sh) lacks LibTorch; the main
  // build requires it, so there this test always runs.
  GTEST_SKIP() << "the trainer needs LibTorch; this build has none";
#endif
  scalelab::testing::TempDir tmp("data_sweep");
  const fs::path d = tmp.path();
  std::string text;
  for (const std::string& doc : st::documents(2000)) text += doc + "\n";
  st::write_text(d / "c.txt", text);
  ASSERT_EQ(run_cli(d, "data prepare c.txt --out prepared --text-docs paragraph --val-fraction 0.05 --quiet").rc, 0);
  fs::create_directories(d / "llmc");
  std::vector<uint32_t> toks(text.begin(), text.end());
  for (uint32_t& t : toks) t &= 0xFF;
  const auto cut = static_cast<std::ptrdiff_t>(toks.size() * 9 / 10);
  st::write_llmc_shard(d / "llmc" / "fineweb_train_000001.bin", {toks.begin(), toks.begin() + cut});
  st::write_llmc_shard(d / "llmc" / "fineweb_val_000000.bin", {toks.begin() + cut, toks.end()});
  st::write_text(d / "sheet.csv",
                 "name,arch,layers,d_model,heads,vocab,seq_len,tokens,batch_tokens,eval_every,eval_tokens,data\n"
                 "prepared,softmax,1,32,2,,64,16384,1024,8,1024,shards:prepared\n"
                 "llmc,lightning,1,32,2,256,64,16384,1024,8,1024,shards:llmc\n");
  auto r = run_cli(d, "--db s.db plan sheet.csv");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("data shards:prepared: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("data shards:llmc: "), std::string::npos) << r.out;
  r = run_cli(d, "--db s.db run --workers 2 --threads 1 --device cpu");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = run_cli(d, "--db s.db status");
  // Both runs done, none pending, running or failed.
  EXPECT_NE(r.out.find("sweep sheet: 2 runs: 2 done\n"), std::string::npos) << r.out;
  // A sheet whose vocab disagrees with the manifest: exit 2, the row named.
  st::write_text(d / "bad.csv", "name,arch,vocab,seq_len,tokens,data\nx,softmax,512,64,16384,shards:prepared\n");
  r = run_cli(d, "--db s.db plan bad.csv");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("bad.csv:2:vocab: vocab 512 disagrees with the data"), std::string::npos) << r.out;
}
