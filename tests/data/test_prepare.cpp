// `data prepare` with the byte tokenizer: exact token streams, the
// by-document split, shard rollover, determinism, and bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "data/format.h"
#include "data/prepare.h"
#include "tests/common/temp_dir.h"
#include "tests/data/helpers.h"

namespace fs = std::filesystem;
namespace st = scalelab::testing;
using namespace scalelab::data;

namespace {

std::vector<uint32_t> read_tokens(const fs::path& p) {
  const ShardHeader h = read_shard_header(p.string());
  MappedFile m(p.string());
  std::vector<uint32_t> out(static_cast<size_t>(h.tokens));
  for (int64_t i = 0; i < h.tokens; ++i)
    out[static_cast<size_t>(i)] = reinterpret_cast<const uint16_t*>(m.data() + kHeaderBytes)[i];
  return out;
}

// Every token of a split, shard after shard.
std::vector<uint32_t> split_tokens(const fs::path& dir, const Manifest& m, Split s) {
  std::vector<uint32_t> all;
  for (const ShardEntry& e : m.shards)
    if (e.split == s) {
      auto t = read_tokens(dir / e.file);
      all.insert(all.end(), t.begin(), t.end());
    }
  return all;
}

std::string jsonl(const std::vector<std::string>& docs) {
  std::string s;
  for (const std::string& d : docs) s += nlohmann::json({{"text", d}, {"id", s.size()}}).dump() + "\n";
  return s;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

struct PrepareTest : ::testing::Test {
  st::TempDir tmp{"prepare"};
  fs::path dir = tmp.path();
  PrepareOptions opts(std::vector<std::string> in, const std::string& out) {
    PrepareOptions o;
    for (auto& i : in) o.inputs.push_back((dir / i).string());
    o.out = (dir / out).string();
    o.progress = false;
    o.val_fraction = 0.1;
    return o;
  }
  std::string error_of(const PrepareOptions& o) {
    try {
      prepare(o);
    } catch (const DataError& e) {
      return e.what();
    }
    return "";
  }
  // Nothing half-written: neither OUT nor a temporary folder beside it.
  void expect_nothing_written(const std::string& out) {
    EXPECT_FALSE(fs::exists(dir / out));
    for (const auto& e : fs::directory_iterator(dir))
      EXPECT_EQ(e.path().filename().string().find(out + ".tmp"), std::string::npos) << e.path();
  }
};

}  // namespace

TEST_F(PrepareTest, ByteTokensAreTheDocumentsEachAfterAnEndOfText) {
  const auto docs = st::documents(400);
  st::write_text(dir / "a.jsonl", jsonl(docs));
  const PrepareResult r = prepare(opts({"a.jsonl"}, "out"));
  const Manifest& m = r.manifest;
  std::vector<uint32_t> train, val;
  int64_t held = 0;
  for (const std::string& d : docs) {
    std::vector<uint32_t>& to = held_out(d, 0.1) ? val : train;
    held += held_out(d, 0.1);
    to.push_back(0);  // the byte tokenizer's end-of-text precedes every document
    for (unsigned char c : d) to.push_back(c);
  }
  ASSERT_GT(held, 10);  // ~40 of 400
  ASSERT_LT(held, 80);
  EXPECT_EQ(split_tokens(dir / "out", m, Split::Train), train);
  EXPECT_EQ(split_tokens(dir / "out", m, Split::Validation), val);
  EXPECT_EQ(m.documents(Split::Validation), held);
  EXPECT_EQ(m.documents(Split::Train), 400 - held);
  EXPECT_EQ(m.tokenizer.type, "byte");
  EXPECT_EQ(m.tokenizer.vocab, 256);
  // The manifest on disk says the same, with checksums and the largest token.
  const Manifest disk = read_manifest((dir / "out").string());
  EXPECT_EQ(to_json(disk), to_json(m));
  for (const ShardEntry& e : disk.shards) {
    const std::string p = (dir / "out" / e.file).string();
    EXPECT_EQ(shard_checksum(p, read_shard_header(p)), e.xxh3) << e.file;
    EXPECT_EQ(e.max_token, scan_max_token(p, kHeaderBytes, e.tokens, 2)) << e.file;
  }
}

TEST_F(PrepareTest, ShardsRollOverAtShardTokens) {
  st::write_text(dir / "a.jsonl", jsonl(st::documents(300)));
  auto o = opts({"a.jsonl"}, "out");
  o.shard_tokens = 1000;
  const Manifest m = prepare(o).manifest;
  const int64_t n = m.tokens(Split::Train);
  int64_t shards = 0, docs = 0;
  for (const ShardEntry& e : m.shards) {
    if (e.split != Split::Train) continue;
    char name[32];
    std::snprintf(name, sizeof name, "train_%06lld.bin", static_cast<long long>(shards));
    EXPECT_EQ(e.file, name);
    EXPECT_EQ(e.tokens, std::min<int64_t>(1000, n - 1000 * shards)) << e.file;
    ++shards;
    docs += e.documents;
  }
  EXPECT_EQ(shards, (n + 999) / 1000);
  EXPECT_EQ(docs, m.documents(Split::Train));
  // The stream across shards is the stream a single shard holds.
  auto one = opts({"a.jsonl"}, "one");
  EXPECT_EQ(split_tokens(dir / "out", m, Split::Train),
            split_tokens(dir / "one", prepare(one).manifest, Split::Train));
}

TEST_F(PrepareTest, DeterministicWhateverTheThreadsAndSplitByContentNotOrder) {
  auto docs = st::documents(500);
  st::write_text(dir / "a.jsonl", jsonl(docs));
  std::reverse(docs.begin(), docs.end());
  st::write_text(dir / "r.jsonl", jsonl(docs));
  auto a = opts({"a.jsonl"}, "one"), b = opts({"a.jsonl"}, "four"), c = opts({"r.jsonl"}, "rev");
  a.threads = 1;
  b.threads = 4;
  const Manifest ma = prepare(a).manifest, mb = prepare(b).manifest, mc = prepare(c).manifest;
  EXPECT_EQ(to_json(ma)["shards"], to_json(mb)["shards"]);
  EXPECT_EQ(slurp(dir / "one" / "train_000000.bin"), slurp(dir / "four" / "train_000000.bin"));
  // Reversed input: the same documents are held out (the streams are reversed too).
  EXPECT_EQ(mc.documents(Split::Validation), ma.documents(Split::Validation));
  EXPECT_EQ(mc.tokens(Split::Validation), ma.tokens(Split::Validation));
}

TEST_F(PrepareTest, TextDocumentsByFileParagraphOrLineAndFoldersAreWalked) {
  fs::create_directories(dir / "corpus" / "sub");
  std::string text;
  for (int p = 0; p < 30; ++p) text += "line one of " + std::to_string(p) + "\nline two\n\n";
  st::write_text(dir / "corpus" / "a.txt", text);
  st::write_text(dir / "corpus" / "sub" / "b.md", "# title\nbody\n");
  st::write_text(dir / "corpus" / "image.png", "\x89PNG");
  const int64_t bytes = static_cast<int64_t>(text.size()) + 13;
  auto o = opts({"corpus"}, "f");
  o.val_fraction = 0.5;
  const PrepareResult f = prepare(o);
  EXPECT_EQ(f.skipped_files, 1);
  EXPECT_EQ(f.manifest.input_bytes, bytes);
  EXPECT_EQ(f.manifest.documents(Split::Train) + f.manifest.documents(Split::Validation), 2);
  EXPECT_EQ(f.manifest.tokens(Split::Train) + f.manifest.tokens(Split::Validation), bytes + 2);
  o.text_docs = TextDocs::Paragraph;
  o.out = (dir / "p").string();
  const Manifest p = prepare(o).manifest;
  EXPECT_EQ(p.documents(Split::Train) + p.documents(Split::Validation), 31);
  // The blank lines between paragraphs are separators, not text.
  EXPECT_EQ(p.tokens(Split::Train) + p.tokens(Split::Validation), bytes - 30 + 31);
  o.text_docs = TextDocs::Line;
  o.out = (dir / "l").string();
  const Manifest l = prepare(o).manifest;
  EXPECT_EQ(l.documents(Split::Train) + l.documents(Split::Validation), 62);
  EXPECT_EQ(l.documents_from, "line");
}

TEST_F(PrepareTest, BadInputNamesTheFileAndLeavesNothing) {
  st::write_text(dir / "bad.jsonl", "{\"text\": \"fine\"}\n\n{\"text\": \"cut off\n");
  EXPECT_EQ(error_of(opts({"bad.jsonl"}, "out")), (dir / "bad.jsonl").string() + ":3: not a valid JSON line");
  st::write_text(dir / "field.jsonl", "{\"body\": \"x\"}\n");
  EXPECT_EQ(error_of(opts({"field.jsonl"}, "out")),
            (dir / "field.jsonl").string() + ":1: has no string field 'text'");
  st::write_text(dir / "nul.txt", std::string("text\nwith a \0 byte\n", 19));
  EXPECT_NE(error_of(opts({"nul.txt"}, "out")).find((dir / "nul.txt").string() + ":2: holds a NUL byte"),
            std::string::npos);
  EXPECT_EQ(error_of(opts({"missing.txt"}, "out")), (dir / "missing.txt").string() + ": no such file or directory");
  st::write_text(dir / "one.txt", "a single document\n");
  EXPECT_NE(error_of(opts({"one.txt"}, "out")).find("the validation split is empty: none of the 1 documents"),
            std::string::npos);
  expect_nothing_written("out");
  fs::create_directories(dir / "full");
  st::write_text(dir / "full" / "x", "keep me");
  EXPECT_EQ(error_of(opts({"one.txt"}, "full")),
            (dir / "full").string() + ": already exists; remove it or choose another --out");
  EXPECT_EQ(slurp(dir / "full" / "x"), "keep me");
  auto o = opts({"one.txt"}, "out");
  o.val_fraction = 1.5;
  EXPECT_EQ(error_of(o), "--val-fraction 1.5 must be in (0, 1)");
}
