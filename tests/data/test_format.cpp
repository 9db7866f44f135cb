// llm.c's .bin format: files written by hand in exactly that layout read back;
// every malformed variant is refused with a message naming the file.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <filesystem>
#include <fstream>

#include "data/format.h"
#include "tests/common/temp_dir.h"
#include "tests/data/helpers.h"

namespace fs = std::filesystem;
namespace st = scalelab::testing;
using namespace scalelab::data;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ShardFormat, ReadsAHandWrittenLlmcShard) {
  st::TempDir tmp("fmt");
  const fs::path p = tmp.path() / "fineweb_train_000001.bin";
  std::vector<uint32_t> toks = {50256, 15496, 11, 995, 0, 65535};
  st::write_llmc_shard(p, toks);
  EXPECT_EQ(fs::file_size(p), 1024u + 6 * 2);
  const ShardHeader h = read_shard_header(p.string());
  EXPECT_EQ(h.tokens, 6);
  EXPECT_EQ(h.width, 2);
  MappedFile m(p.string());
  ASSERT_EQ(m.size(), 1036);
  const auto* t = reinterpret_cast<const uint16_t*>(m.data() + kHeaderBytes);
  for (size_t i = 0; i < toks.size(); ++i) EXPECT_EQ(t[i], toks[i]);
  EXPECT_EQ(scan_max_token(p.string(), kHeaderBytes, 6, 2), 65535);
}

TEST(ShardFormat, Uint32VersionsAndLlama3Magic) {
  st::TempDir tmp("fmt");
  const std::vector<uint32_t> toks = {128000, 9906, 70000, 3};
  st::write_llmc_shard(tmp.path() / "a.bin", toks, kShardMagic, 2);
  st::write_llmc_shard(tmp.path() / "b.bin", toks, kLlama3Magic, 7);
  for (const char* f : {"a.bin", "b.bin"}) {
    const std::string p = (tmp.path() / f).string();
    const ShardHeader h = read_shard_header(p);
    EXPECT_EQ(h.width, 4) << f;
    EXPECT_EQ(h.tokens, 4) << f;
    EXPECT_EQ(scan_max_token(p, kHeaderBytes, 4, 4), 128000) << f;
  }
}

TEST(ShardFormat, WriterProducesTheSameBytesAsTheLayout) {
  st::TempDir tmp("fmt");
  std::vector<uint32_t> toks(70000);
  for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<uint32_t>(i * 31 % 50257);
  st::write_llmc_shard(tmp.path() / "hand.bin", toks);
  ShardWriter w((tmp.path() / "ours.bin").string(), 2);
  w.append(toks.data(), 1000);
  EXPECT_FALSE(fs::exists(tmp.path() / "ours.bin"));  // appears only once closed
  w.append(toks.data() + 1000, static_cast<int64_t>(toks.size()) - 1000);
  const ShardStats s = w.close();
  EXPECT_EQ(s.tokens, 70000);
  EXPECT_EQ(s.max_token, 50256);
  std::ifstream a(tmp.path() / "hand.bin", std::ios::binary), b(tmp.path() / "ours.bin", std::ios::binary);
  const std::string ha((std::istreambuf_iterator<char>(a)), {}), hb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_EQ(ha, hb);
  EXPECT_EQ(s.xxh3, XXH3_64bits(ha.data() + 1024, ha.size() - 1024));
  EXPECT_EQ(shard_checksum((tmp.path() / "ours.bin").string(), read_shard_header((tmp.path() / "ours.bin").string())),
            s.xxh3);
  EXPECT_FALSE(fs::exists(tmp.path() / "ours.bin.tmp"));
}

TEST(ShardFormat, BadFilesAreRefusedNamingTheFile) {
  st::TempDir tmp("fmt");
  const fs::path d = tmp.path();
  const std::vector<uint32_t> toks = {1, 2, 3, 4};
  st::write_llmc_shard(d / "magic.bin", toks, 12345);
  st::write_llmc_shard(d / "version.bin", toks, kShardMagic, 3);
  st::write_llmc_shard(d / "truncated.bin", toks, kShardMagic, 1, 10);
  st::write_llmc_shard(d / "long.bin", toks, kShardMagic, 1, 2);
  st::write_text(d / "short.bin", "tiny");
  const std::string p = d.string() + "/";
  EXPECT_EQ(error_of([&] { read_shard_header(p + "magic.bin"); }),
            p + "magic.bin: wrong magic 12345; not an llm.c token shard (magic 20240520)");
  EXPECT_NE(error_of([&] { read_shard_header(p + "version.bin"); }).find(p + "version.bin: unknown shard version 3"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { read_shard_header(p + "truncated.bin"); }),
            p + "truncated.bin: truncated: the header says 10 tokens (1044 bytes), the file has 1032 bytes");
  EXPECT_NE(error_of([&] { read_shard_header(p + "long.bin"); }).find("has trailing bytes"), std::string::npos);
  EXPECT_NE(error_of([&] { read_shard_header(p + "short.bin"); }).find(p + "short.bin: truncated"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_shard_header(p + "missing.bin"); }).find(p + "missing.bin: cannot open"),
            std::string::npos);
}
