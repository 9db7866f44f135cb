// Token shards in llm.c's .bin format, and read-only memory maps of them.
//
// Layout (llm.c dev/data/data_common.py, modded-nanogpt's FineWeb scripts):
//   256 x int32 little-endian header: [0] magic, [1] version, [2] token count,
//   the rest zero; then the tokens, each a little-endian uint16 or uint32.
//   magic 20240520, version 1: uint16 tokens (GPT-2 shards);
//   magic 20240520, version 2: uint32 tokens (our shards for vocab > 65536);
//   magic 20240801, version 7: uint32 tokens (llm.c's Llama-3 shards).
// A file whose size is not exactly header + count x width is truncated (or has
// trailing garbage) and is refused, naming the file.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace scalelab::data {

// Bad or missing data: the message names the file (and what is wrong with it).
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr int32_t kShardMagic = 20240520;
inline constexpr int32_t kLlama3Magic = 20240801;
inline constexpr int64_t kHeaderInts = 256;
inline constexpr int64_t kHeaderBytes = kHeaderInts * 4;
inline constexpr int64_t kMaxShardTokens = 2147483647;  // the header's int32 count

struct ShardHeader {
  int64_t tokens = 0;
  int width = 2;  // bytes per token: 2 or 4
};

// Reads and checks PATH's header against its size. Throws DataError naming
// PATH for a missing file, a wrong magic or version, or a truncated file.
ShardHeader read_shard_header(const std::string& path);

// A whole file mapped read-only (plain mmap, MAP_PRIVATE), its descriptor kept
// open for `read`. Movable, not copyable.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&&) = delete;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  int64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Copies N bytes at OFFSET into DST with pread: for scattered small reads of
  // a file much larger than the pages a reader may keep mapped, a copy costs
  // less than the page fault a mapped read takes (2 vs 9-20 us a window).
  // Throws DataError naming the file at a short read.
  void read(void* dst, int64_t n, int64_t offset) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  int64_t size_ = 0;
  int fd_ = -1;
};

// The largest token id in COUNT tokens of WIDTH bytes starting at byte
// OFFSET of PATH, read with pread in chunks (no mapping: it leaves the RSS alone).
int64_t scan_max_token(const std::string& path, int64_t offset, int64_t count, int width);

// What a finished shard holds.
struct ShardStats {
  int64_t tokens = 0;
  int64_t max_token = -1;
  uint64_t xxh3 = 0;  // XXH3-64 of the token bytes (everything after the header)
};

// Writes one shard: tokens are appended, close() writes the header, fsyncs and
// returns what the file holds. The file only appears under PATH once closed
// (written as PATH.tmp, then renamed).
class ShardWriter {
 public:
  ShardWriter(std::string path, int width);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  void append(const uint32_t* tokens, int64_t n);
  int64_t tokens() const { return count_; }
  ShardStats close();

 private:
  void flush();
  std::string path_, tmp_;
  int width_;
  int fd_ = -1;
  int64_t count_ = 0, max_ = -1;
  void* hash_ = nullptr;  // XXH3_state_t
  std::vector<uint8_t> buf_;
};

// XXH3-64 of the token bytes of an existing shard (what ShardStats::xxh3 holds).
uint64_t shard_checksum(const std::string& path, const ShardHeader& h);

}  // namespace scalelab::data
