// SentencePiece tokenizers trained on the corpus or loaded from a .model:
// exact round trips, the model travelling with the shards, bad options.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "data/format.h"
#include "data/prepare.h"
#include "data/tokenizer.h"
#include "tests/common/temp_dir.h"
#include "tests/data/helpers.h"

namespace fs = std::filesystem;
namespace st = scalelab::testing;
using namespace scalelab::data;

namespace {

struct TokenizerTest : ::testing::Test {
  st::TempDir tmp{"tok"};
  fs::path dir = tmp.path();
  std::vector<std::string> docs = st::documents(1500, 7);
  void SetUp() override {
    std::string s;
    for (const std::string& d : docs) s += nlohmann::json({{"text", d}}).dump() + "\n";
    st::write_text(dir / "c.jsonl", s);
  }
  PrepareOptions opts(const std::string& tokenizer, int64_t vocab, const std::string& out) {
    PrepareOptions o;
    o.inputs = {(dir / "c.jsonl").string()};
    o.out = (dir / out).string();
    o.tokenizer = tokenizer;
    o.train_vocab = vocab;
    o.val_fraction = 0.05;
    o.progress = false;
    o.threads = 2;
    return o;
  }
};

// The documents of a split back as text: the tokens between end-of-text tokens, decoded.
std::vector<std::string> decode_split(const fs::path& dir, const Manifest& m, const Tokenizer& tok, Split s) {
  std::vector<std::string> out;
  std::vector<uint32_t> cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(tok.decode(cur));
    cur.clear();
  };
  for (const ShardEntry& e : m.shards) {
    if (e.split != s) continue;
    const std::string p = (dir / e.file).string();
    MappedFile f(p);
    const auto* t = reinterpret_cast<const uint16_t*>(f.data() + kHeaderBytes);
    for (int64_t i = 0; i < e.tokens; ++i) {
      if (t[i] == m.tokenizer.eot) flush();
      else cur.push_back(t[i]);
    }
  }
  flush();
  return out;
}

}  // namespace

TEST_F(TokenizerTest, TrainedBpeRoundTripsAndTravelsWithTheShards) {
  const Manifest m = prepare(opts("bpe", 400, "bpe")).manifest;
  EXPECT_EQ(m.tokenizer.type, "sentencepiece");
  EXPECT_EQ(m.tokenizer.model, "bpe");
  EXPECT_EQ(m.tokenizer.vocab, 400);
  EXPECT_EQ(m.tokenizer.eot, 2);
  EXPECT_EQ(m.width, 2);
  ASSERT_TRUE(fs::exists(dir / "bpe" / "tokenizer.model"));
  const auto tok = load_tokenizer(m.tokenizer, (dir / "bpe").string());
  std::vector<std::string> train;
  for (const std::string& d : docs)
    if (!held_out(d, 0.05)) train.push_back(d);
  EXPECT_EQ(decode_split(dir / "bpe", m, *tok, Split::Train), train);
  // Far fewer tokens than bytes: the tokenizer learned the corpus's words.
  EXPECT_LT(m.tokens(Split::Train) * 3, m.input_bytes);
  for (const ShardEntry& e : m.shards) EXPECT_LT(e.max_token, 400);

  // The .model file as --tokenizer gives the same shards.
  const Manifest again = prepare(opts((dir / "bpe" / "tokenizer.model").string(), 0, "again")).manifest;
  ASSERT_EQ(again.shards.size(), m.shards.size());
  for (size_t i = 0; i < m.shards.size(); ++i) EXPECT_EQ(again.shards[i].xxh3, m.shards[i].xxh3);
  EXPECT_EQ(again.tokenizer.vocab, 400);
}

TEST_F(TokenizerTest, UnigramTrains) {
  const Manifest m = prepare(opts("unigram", 300, "uni")).manifest;
  EXPECT_EQ(m.tokenizer.model, "unigram");
  EXPECT_EQ(m.tokenizer.vocab, 300);
  const auto tok = load_tokenizer(m.tokenizer, (dir / "uni").string());
  std::vector<uint32_t> ids;
  tok->encode("Über quartz café", ids);
  EXPECT_EQ(tok->decode(ids), "Über quartz café");
}

TEST_F(TokenizerTest, BadTokenizerOptionsAreNamed) {
  auto error_of = [&](const PrepareOptions& o) {
    try {
      prepare(o);
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error_of(opts("bpe", 0, "x")),
            "--tokenizer bpe trains a tokenizer: give --train-tokenizer VOCAB");
  EXPECT_EQ(error_of(opts("byte", 512, "x")), "--train-tokenizer needs --tokenizer bpe or unigram, not 'byte'");
  EXPECT_NE(error_of(opts((dir / "none.model").string(), 0, "x")).find("is not byte, bpe, unigram or an existing"),
            std::string::npos);
  st::write_text(dir / "junk.model", "not a model");
  EXPECT_NE(error_of(opts((dir / "junk.model").string(), 0, "x")).find((dir / "junk.model").string()),
            std::string::npos);
  // More pieces than the corpus can supply: SentencePiece's reason, passed on.
  const std::string e = error_of(opts("bpe", 200000, "x"));
  EXPECT_NE(e.find("training a SentencePiece bpe tokenizer of vocab 200000 failed"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir / "x"));
}

TEST(ByteTokenizer, IsTheBytes) {
  const auto t = byte_tokenizer();
  std::vector<uint32_t> ids;
  t->encode("a\xc3\xa9", ids);
  EXPECT_EQ(ids, (std::vector<uint32_t>{97, 0xc3, 0xa9}));
  EXPECT_EQ(t->decode(ids), "a\xc3\xa9");
  EXPECT_EQ(t->info().vocab, 256);
  EXPECT_EQ(t->info().eot, 0);
}
