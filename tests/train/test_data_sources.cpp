// The trainer on real data sources: shards made by `data prepare`, shards in
// llm.c's layout written by hand, and a 1 GiB shard set whose size the run's
// memory must not follow.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "data/prepare.h"
#include "db/db.h"
#include "models/spec/run_spec.h"
#include "tests/common/temp_dir.h"
#include "tests/data/helpers.h"
#include "tests/train/trainer_fixture.h"
#include "train/data.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
namespace st = scalelab::testing;
using namespace scalelab;

namespace {

// Token caches (text:) and scan memos of this test binary go to a temporary
// folder, not the user's ~/.cache.
class CacheEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    dir_ = std::make_unique<st::TempDir>("train_cache");
    ::setenv("SCALELAB_CACHE", dir_->path().c_str(), 1);
  }
  void TearDown() override { dir_.reset(); }

 private:
  std::unique_ptr<st::TempDir> dir_;
};
const auto* const kCacheEnv = ::testing::AddGlobalTestEnvironment(new CacheEnv);

spec::RunSpec spec_for(const std::string& data, int64_t vocab, int64_t steps) {
  spec::RunSpec s;
  s.model = spec::parse_descriptor("softmax:L1:d32:h2:T64");
  s.model.vocab = static_cast<int>(vocab);
  s.batch_tokens = 4 * 64;
  s.tokens = steps * s.batch_tokens;
  s.warmup = 2;
  s.data = data;
  s.eval_every = 1000;
  s.eval_tokens = 64 * 4;
  return s;
}

train::TrainResult train_on(const spec::RunSpec& s, const fs::path& run_dir,
                         std::function<void(int64_t, double)> on_step = {}) {
  db::Database db(":memory:");
  const db::Run run = st::insert(db, s);
  train::TrainOptions opt;
  opt.run_dir = run_dir.string();
  opt.progress = false;
  opt.device = "cpu";
  opt.on_step = std::move(on_step);
  return train::train_run(db, run, opt);
}

}  // namespace

TEST(DataSources, BatchIntoWritesWhatBatchReturns) {
  st::TempDir tmp("sources");
  std::vector<uint32_t> toks(20000);
  for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<uint32_t>(i * 13 % 50257);
  fs::create_directories(tmp.path() / "s");
  st::write_llmc_shard(tmp.path() / "s" / "x_train_000.bin", toks);
  st::write_llmc_shard(tmp.path() / "s" / "x_val_000.bin", toks);
  const auto d = train::TokenData::load("shards:" + (tmp.path() / "s").string(), 50257, 32);
  const torch::Tensor a = d.batch(train::Split::Train, 6, 3, 17);
  ASSERT_EQ(a.sizes(), (std::vector<int64_t>{6, 33}));
  std::vector<int64_t> b(6 * 33, -1);
  d.batch_into(train::Split::Train, 6, 3, 17, b.data());
  EXPECT_TRUE(torch::equal(a, torch::from_blob(b.data(), {6, 33}, torch::kInt64)));
  EXPECT_EQ(d.train_tokens(), 20000);
}

TEST(DataSources, TrainsFromPreparedShardsAndFromAnLlmcShard) {
  st::TempDir tmp("sources");
  std::string text;
  for (const std::string& doc : st::documents(3000)) text += doc + "\n";
  st::write_text(tmp.path() / "c.txt", text);
  data::PrepareOptions o;
  o.inputs = {(tmp.path() / "c.txt").string()};
  o.out = (tmp.path() / "prepared").string();
  o.text_docs = data::TextDocs::Paragraph;
  o.val_fraction = 0.05;
  o.progress = false;
  data::prepare(o);
  const auto res = train_on(spec_for("shards:" + o.out, 256, 40), tmp.path() / "run1");
  ASSERT_EQ(res.outcome, train::Outcome::Done) << res.error;
  EXPECT_LT(res.final_val_loss, 4.0);  // uniform over 256 bytes is 5.55

  // The same tokens in llm.c's layout, no manifest: train_*.bin and val_*.bin.
  fs::create_directories(tmp.path() / "llmc");
  std::vector<uint32_t> toks;
  for (unsigned char c : text) toks.push_back(c);
  const size_t cut = toks.size() * 9 / 10;
  st::write_llmc_shard(tmp.path() / "llmc" / "corpus_train_000000.bin", {toks.begin(), toks.begin() + cut});
  st::write_llmc_shard(tmp.path() / "llmc" / "corpus_val_000000.bin", {toks.begin() + cut, toks.end()});
  const auto res2 = train_on(spec_for("shards:" + (tmp.path() / "llmc").string(), 256, 40), tmp.path() / "run2");
  ASSERT_EQ(res2.outcome, train::Outcome::Done) << res2.error;
  EXPECT_LT(res2.final_val_loss, 4.0);
}

// A 1 GiB shard set (sparse: no disk, made instantly): the run maps it and
// its RSS stays within 64 MB of what it was before training started.
TEST(DataSources, TrainerMemoryDoesNotGrowWithTheCorpus) {
  st::TempDir tmp("sources");
  st::write_sparse_shard_set(tmp.path() / "big", int64_t{1} << 30);
  const int64_t before = st::rss_bytes();
  int64_t peak = 0;
  const auto res = train_on(spec_for("shards:" + (tmp.path() / "big").string(), 256, 6), tmp.path() / "run",
                         [&](int64_t, double) { peak = std::max(peak, st::rss_bytes() - before); });
  ASSERT_EQ(res.outcome, train::Outcome::Done) << res.error;
  EXPECT_EQ(res.steps_done, 6);
  EXPECT_LT(peak, 64 << 20) << "RSS grew by " << (peak >> 20) << " MiB while training";
}
