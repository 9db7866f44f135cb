// The memory-mapped reader: sampling without replacement within an epoch,
// batches as a function of (seed, step), windows inside shards, sources of
// every kind, bad data named before training, and bounded memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "data/dataset.h"
#include "data/files.h"
#include "tests/common/temp_dir.h"
#include "tests/data/helpers.h"

namespace fs = std::filesystem;
namespace st = scalelab::testing;
using namespace scalelab::data;

namespace {

std::vector<uint32_t> iota(int64_t n, uint32_t from = 0) {
  std::vector<uint32_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = from + static_cast<uint32_t>(i);
  return v;
}

// Token caches and scan memos go to a temporary folder, not ~/.cache.
struct DatasetTest : ::testing::Test {
  st::TempDir tmp{"dataset"};
  fs::path dir = tmp.path();
  void SetUp() override { ::setenv("SCALELAB_CACHE", (dir / "cache").c_str(), 1); }
  void TearDown() override { ::unsetenv("SCALELAB_CACHE"); }
  // An llm.c-style folder (no manifest): TRAIN shards of the given sizes, one val shard.
  std::string llmc_dir(const std::string& name, const std::vector<std::vector<uint32_t>>& train,
                       const std::vector<uint32_t>& val) {
    fs::create_directories(dir / name);
    for (size_t i = 0; i < train.size(); ++i)
      st::write_llmc_shard(dir / name / ("fineweb_train_00000" + std::to_string(i + 1) + ".bin"), train[i]);
    if (!val.empty()) st::write_llmc_shard(dir / name / "fineweb_val_000000.bin", val);
    return "shards:" + (dir / name).string();
  }
  std::string error_of(const std::string& source, int64_t vocab, int64_t seq) {
    try {
      Dataset::open(source, vocab, seq);
    } catch (const DataError& e) {
      return e.what();
    }
    return "";
  }
};

}  // namespace

TEST(Permutation, IsABijectionForEverySize) {
  for (uint64_t n : {1u, 2u, 3u, 5u, 17u, 64u, 1000u, 4097u}) {
    for (uint64_t key : {0u, 1u, 99u}) {
      Permutation p(n, key);
      std::set<uint64_t> seen;
      for (uint64_t i = 0; i < n; ++i) seen.insert(p(i));
      EXPECT_EQ(seen.size(), n) << n;
      EXPECT_LT(*seen.rbegin(), n);
    }
  }
  Permutation a(1000, 1), b(1000, 2);
  int same = 0;
  for (uint64_t i = 0; i < 1000; ++i) same += a(i) == b(i);
  EXPECT_LT(same, 20);  // different keys, different orders
}

TEST_F(DatasetTest, EachEpochReadsEveryWindowOnce) {
  const int64_t T = 8, W = 50;
  const auto src = llmc_dir("s", {iota(W * T + 1)}, iota(100));
  const Dataset d = Dataset::open(src, 1000, T);
  ASSERT_EQ(d.num_windows(Split::Train), W);
  std::vector<int64_t> rows(5 * (T + 1));
  std::vector<std::vector<int64_t>> epochs(3);
  for (int64_t step = 0; step < 30; ++step) {  // 10 steps of 5 rows per epoch
    d.batch_into(Split::Train, 5, 42, step, rows.data());
    for (int64_t b = 0; b < 5; ++b) {
      const int64_t* r = rows.data() + b * (T + 1);
      for (int64_t t = 1; t <= T; ++t) ASSERT_EQ(r[t], r[0] + t);  // consecutive tokens
      epochs[static_cast<size_t>(step / 10)].push_back(r[0]);
    }
  }
  std::vector<std::vector<int64_t>> windows(3);
  for (size_t e = 0; e < 3; ++e) {
    for (int64_t start : epochs[e]) windows[e].push_back(start / T);
    std::vector<int64_t> sorted = windows[e];
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < W; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i) << "epoch " << e;
  }
  EXPECT_NE(windows[0], windows[1]);  // a new order every epoch
  // The per-epoch shift moves the cuts (the first window of each epoch shows it).
  EXPECT_FALSE(epochs[0][0] % T == epochs[1][0] % T && epochs[1][0] % T == epochs[2][0] % T);
}

TEST_F(DatasetTest, BatchesAreAFunctionOfSeedAndStepAndStayInsideShards) {
  const auto src = llmc_dir("s", {iota(3000, 1000), iota(5000, 30000)}, iota(2000, 100));
  const Dataset a = Dataset::open(src, 65536, 64), b = Dataset::open(src, 65536, 64);
  std::vector<int64_t> x(16 * 65), y(16 * 65), z(16 * 65);
  a.batch_into(Split::Train, 16, 7, 123, x.data());
  b.batch_into(Split::Train, 16, 7, 123, y.data());
  EXPECT_EQ(x, y);
  b.batch_into(Split::Train, 16, 8, 123, z.data());
  EXPECT_NE(x, z);
  b.batch_into(Split::Train, 16, 7, 124, z.data());
  EXPECT_NE(x, z);
  for (int64_t step = 0; step < 20; ++step) {
    a.batch_into(Split::Train, 16, 1, step, x.data());
    for (int64_t r = 0; r < 16; ++r) {
      const int64_t first = x[static_cast<size_t>(r * 65)], last = x[static_cast<size_t>(r * 65 + 64)];
      EXPECT_EQ(last - first, 64);  // contiguous, so never across the two shards
      EXPECT_TRUE((first >= 1000 && last < 4000) || (first >= 30000 && last < 35000)) << first;
    }
  }
}

TEST_F(DatasetTest, ValidationWindowsAreFixedAndContiguous) {
  const auto src = llmc_dir("s", {iota(4000)}, iota(1000, 5000));
  const Dataset d = Dataset::open(src, 65536, 32);
  EXPECT_EQ(d.num_windows(Split::Validation), (1000 - 1) / 32);
  std::vector<int64_t> w(3 * 33);
  d.validation_windows_into(0, 3, w.data());
  EXPECT_EQ(w[0], 5000);
  EXPECT_EQ(w[33], w[32]);  // each window starts where the last one's targets end
  EXPECT_EQ(w[98], 5000 + 96);
  EXPECT_THROW(d.validation_windows_into(30, 2, w.data()), std::out_of_range);
}

TEST_F(DatasetTest, LlmcShardsWithoutAManifest) {
  const auto src = llmc_dir("gpt2", {iota(3000, 47000), iota(2000)}, iota(500, 100));
  const SourceLayout L = resolve_source(src);
  EXPECT_FALSE(L.vocab_exact);
  EXPECT_EQ(L.vocab, 49999 + 1);  // the largest token + 1: all that can be said without a manifest
  EXPECT_EQ(L.train.size(), 2u);
  EXPECT_EQ(L.tokens(Split::Train), 5000);
  EXPECT_EQ(L.tokens(Split::Validation), 500);
  EXPECT_NO_THROW(Dataset::open(src, 50257, 64));
  EXPECT_EQ(error_of(src, 48000, 64),
            (dir / "gpt2" / "fineweb_train_000001.bin").string() + ": holds token 49999 but the model's vocab is 48000");
  // Each scan is remembered (by path, size and mtime), one memo per shard.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "cache" / "scan"), fs::directory_iterator()), 3);
}

TEST_F(DatasetTest, BadShardSetsAreNamedBeforeTraining) {
  const auto no_val = llmc_dir("noval", {iota(3000)}, {});
  EXPECT_EQ(error_of(no_val, 65536, 16), (dir / "noval").string() +
                                             ": the validation split is empty (no such shard, or no tokens in it)");
  const auto s = llmc_dir("trunc", {iota(3000)}, iota(300));
  fs::resize_file(dir / "trunc" / "fineweb_train_000001.bin", 1024 + 2999 * 2);
  EXPECT_NE(error_of(s, 65536, 16).find((dir / "trunc" / "fineweb_train_000001.bin").string() + ": truncated"),
            std::string::npos);
  const auto shortset = llmc_dir("short", {iota(300)}, iota(30));
  EXPECT_EQ(error_of(shortset, 65536, 64),
            (dir / "short").string() + ": the validation split (30 tokens) is too short for seq_len 64");
  EXPECT_EQ(error_of("shards:" + (dir / "nowhere").string(), 256, 16),
            (dir / "nowhere").string() + ": no such folder of shards");
  fs::create_directories(dir / "empty");
  EXPECT_NE(error_of("shards:" + (dir / "empty").string(), 256, 16).find("no manifest.json and no *train*.bin"),
            std::string::npos);
  // A manifest that disagrees with its shard, and one whose shard is gone.
  st::write_sparse_shard_set(dir / "m", 1 << 20);
  fs::resize_file(dir / "m" / "val_000000.bin", 1024 + 1000);
  EXPECT_NE(error_of("shards:" + (dir / "m").string(), 256, 16).find("val_000000.bin: truncated"), std::string::npos);
  fs::remove(dir / "m" / "val_000000.bin");
  EXPECT_NE(error_of("shards:" + (dir / "m").string(), 256, 16).find("val_000000.bin: cannot open"), std::string::npos);
}

TEST_F(DatasetTest, TextIsTokenizedOnceIntoACacheAndSplitByBlock) {
  std::string text;
  for (int i = 0; text.size() < 64 * 1024 * 40; ++i) text += "verse " + std::to_string(i) + " of the text\n";
  text.resize(64 * 1024 * 40);
  st::write_text(dir / "t.txt", text);
  const SourceLayout L = resolve_source("text:" + (dir / "t.txt").string());
  EXPECT_EQ(L.tokens(Split::Validation), 2 * 64 * 1024);  // blocks 19 and 39
  EXPECT_EQ(L.tokens(Split::Train), 38 * 64 * 1024);
  const fs::path cache = dir / "cache" / "tokens" / (file_hash((dir / "t.txt").string()) + "-byte-v1");
  ASSERT_TRUE(fs::exists(cache / "manifest.json"));
  const auto made = fs::last_write_time(cache / "manifest.json");
  const Dataset d = Dataset::open("text:" + (dir / "t.txt").string(), 256, 16);
  EXPECT_EQ(fs::last_write_time(cache / "manifest.json"), made);  // reused, not rebuilt
  std::vector<int64_t> w(17);
  d.validation_windows_into(0, 1, w.data());
  for (int t = 0; t < 17; ++t) EXPECT_EQ(w[static_cast<size_t>(t)], static_cast<unsigned char>(text[19 * 65536 + t]));
  EXPECT_EQ(error_of("text:" + (dir / "t.txt").string(), 100, 16),
            (cache / "train_000000.bin").string() + ": holds token 120 but the model's vocab is 100");
  st::write_text(dir / "empty.txt", "");
  EXPECT_EQ(error_of((dir / "empty.txt").string(), 256, 16), (dir / "empty.txt").string() + ": is empty");
  EXPECT_EQ(error_of((dir / "none.txt").string(), 256, 16), (dir / "none.txt").string() + ": no such file");
}

// A 1 GiB shard set: mapping it costs nothing, and reading thousands of
// windows spread over it (far more pages than 64 MB) leaves the RSS bounded.
TEST_F(DatasetTest, MemoryDoesNotGrowWithTheCorpus) {
  st::write_sparse_shard_set(dir / "big", int64_t{1} << 30);
  const int64_t before = st::rss_bytes();
  const Dataset d = Dataset::open("shards:" + (dir / "big").string(), 256, 256);
  EXPECT_EQ(d.tokens(Split::Train), ((int64_t{1} << 30) - 1024) / 2);
  std::vector<int64_t> rows(64 * 257);
  int64_t peak = 0;
  for (int64_t step = 0; step < 40; ++step) {  // 2,560 windows, each on its own pages
    d.batch_into(Split::Train, 64, 5, step, rows.data());
    peak = std::max(peak, st::rss_bytes() - before);
  }
  EXPECT_LT(peak, 64 << 20) << "RSS grew by " << (peak >> 20) << " MiB";
}
