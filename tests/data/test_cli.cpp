// `scalelab data` as a user runs it: the summary on stdout, the progress line
// on stderr, exit code 2 and nothing written for bad input, `verify`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

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
