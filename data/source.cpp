#include "data/source.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "data/files.h"
#include "data/format.h"
#include "data/sink.h"

namespace fs = std::filesystem;

namespace scalelab::data {
namespace {

constexpr int64_t kBlock = 64 * 1024;
constexpr int64_t kHoldOutEvery = 20;

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// The block split of an N-token stream as maximal runs of consecutive blocks.
void block_split(int64_t n, int file, std::vector<Segment>& train, std::vector<Segment>& val) {
  auto add = [file](std::vector<Segment>& v, int64_t b, int64_t e) {
    if (e <= b) return;
    if (!v.empty() && v.back().first + v.back().tokens == b) v.back().tokens += e - b;
    else v.push_back({file, b, e - b});
  };
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  if (blocks < kHoldOutEvery) {  // small files: hold out the last tenth
    add(train, 0, n - n / 10);
    add(val, n - n / 10, n);
    return;
  }
  for (int64_t i = 0; i < blocks; ++i)
    add(i % kHoldOutEvery == kHoldOutEvery - 1 ? val : train, i * kBlock, std::min(n, (i + 1) * kBlock));
}

// The largest token of F, scanned once per (path, size, mtime) and remembered.
int64_t cached_max_token(const TokenFile& f) {
  struct stat st {};
  char* real = ::realpath(f.path.c_str(), nullptr);
  const std::string rp = real ? real : f.path;
  std::free(real);
  ::stat(f.path.c_str(), &st);
  const std::string id = fmt::format("{}|{}|{}.{}", rp, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  const std::string dir = cache_root() + "/scan";
  const std::string memo = dir + "/" + hex64(XXH3_64bits(id.data(), id.size())) + ".txt";
  int64_t v = -1;
  if (std::ifstream in(memo); in >> v && v >= 0) return v;
  v = scan_max_token(f.path, f.offset, f.tokens, f.width);
  try {  // a cache that cannot be written only costs a rescan next time
    std::error_code ec;
    fs::create_directories(dir, ec);
    write_file_atomic(memo, std::to_string(v) + "\n");
  } catch (const DataError&) {
  }
  return v;
}

SourceLayout from_manifest(const std::string& dir) {
  const Manifest m = read_manifest(dir);
  SourceLayout L;
  L.vocab = m.tokenizer.vocab;
  L.vocab_exact = true;
  if (!m.tokenizer.file.empty() && !fs::exists(dir + "/" + m.tokenizer.file))
    throw DataError(dir + "/" + m.tokenizer.file + ": missing (the tokenizer travels with the shards)");
  for (const ShardEntry& e : m.shards) {
    const std::string path = dir + "/" + e.file;
    const ShardHeader h = read_shard_header(path);
    if (h.tokens != e.tokens || h.width != m.width)
      throw DataError(fmt::format("{}: the header says {} tokens of {} bytes, {}/manifest.json {} of {}",
                                  path, h.tokens, h.width, dir, e.tokens, m.width));
    if (e.max_token >= m.tokenizer.vocab)
      throw DataError(fmt::format("{}: holds token {} but its tokenizer's vocab is {}", path,
                                  e.max_token, m.tokenizer.vocab));
    L.files.push_back({path, kHeaderBytes, h.tokens, h.width, e.max_token});
    (e.split == Split::Train ? L.train : L.validation)
        .push_back({static_cast<int>(L.files.size() - 1), 0, h.tokens});
  }
  return L;
}

// llm.c / modded-nanogpt shards: *train*.bin and *val*.bin, no manifest.
SourceLayout from_llmc_dir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".bin") names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  SourceLayout L;
  L.vocab = 0;
  for (const std::string& n : names) {
    const bool train = n.find("train") != std::string::npos, val = n.find("val") != std::string::npos;
    if (!train && !val) continue;
    const std::string path = dir + "/" + n;
    const ShardHeader h = read_shard_header(path);
    TokenFile f{path, kHeaderBytes, h.tokens, h.width, -1};
    f.max_token = cached_max_token(f);
    L.vocab = std::max(L.vocab, f.max_token + 1);
    L.files.push_back(f);
    (train ? L.train : L.validation).push_back({static_cast<int>(L.files.size() - 1), 0, h.tokens});
  }
  if (L.files.empty())
    throw DataError(dir + ": no manifest.json and no *train*.bin or *val*.bin shards");
  return L;
}

SourceLayout from_shards(const std::string& dir) {
  if (!fs::is_directory(dir)) throw DataError(dir + ": no such folder of shards");
  SourceLayout L = fs::exists(dir + "/manifest.json") ? from_manifest(dir) : from_llmc_dir(dir);
  L.origin = dir;
  return L;
}

SourceLayout from_flat_u16(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw DataError(path + ": cannot open: " + std::strerror(errno));
  if (st.st_size == 0) throw DataError(path + ": is empty");
  if (st.st_size % 2 != 0)
    throw DataError(path + ": has an odd byte count; expected uint16 tokens");
  SourceLayout L;
  L.origin = path;
  TokenFile f{path, 0, st.st_size / 2, 2, -1};
  f.max_token = cached_max_token(f);
  L.vocab = f.max_token + 1;
  L.files.push_back(f);
  block_split(f.tokens, 0, L.train, L.validation);
  return L;
}

// Writes the byte tokens of FILE, split by block, into shards under TMP.
Manifest build_text_cache(const std::string& file, const std::string& tmp) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!f) throw DataError(file + ": cannot open: " + std::strerror(errno));
  std::FILE* in = f.get();
  struct stat st {};
  ::fstat(::fileno(in), &st);
  const int64_t n = st.st_size;
  if (n == 0) throw DataError(file + ": is empty");
  std::vector<Segment> train, val;
  block_split(n, 0, train, val);
  SplitSink sinks[2] = {{tmp, Split::Train, 2, int64_t{1} << 30}, {tmp, Split::Validation, 2, int64_t{1} << 30}};
  std::vector<uint8_t> bytes(kBlock);
  std::vector<uint32_t> tokens(kBlock);
  size_t ti = 0, vi = 0;
  for (int64_t at = 0; at < n;) {
    const size_t k = std::fread(bytes.data(), 1, bytes.size(), in);
    if (k == 0) break;
    // Blocks are read whole and split at segment ends, so each byte lands in its split.
    for (size_t i = 0; i < k;) {
      const int64_t pos = at + static_cast<int64_t>(i);
      while (ti < train.size() && train[ti].first + train[ti].tokens <= pos) ++ti;
      while (vi < val.size() && val[vi].first + val[vi].tokens <= pos) ++vi;
      const bool is_val = vi < val.size() && val[vi].first <= pos;
      const Segment& s = is_val ? val[vi] : train[ti];
      const size_t take = std::min<size_t>(k - i, static_cast<size_t>(s.first + s.tokens - pos));
      for (size_t j = 0; j < take; ++j) tokens[j] = bytes[i + j];
      sinks[is_val].append(tokens.data(), static_cast<int64_t>(take));
      i += take;
    }
    at += static_cast<int64_t>(k);
  }
  Manifest m;
  m.width = 2;
  m.val_fraction = 1.0 / kHoldOutEvery;
  m.documents_from = "blocks";
  m.input_bytes = n;
  m.inputs = {fs::absolute(file).string()};
  m.shards = sinks[0].close();
  if (!m.shards.empty()) m.shards[0].documents = 1;  // the file is one document
  for (ShardEntry& e : sinks[1].close()) m.shards.push_back(std::move(e));
  return m;
}

}  // namespace

int64_t SourceLayout::tokens(Split s) const {
  int64_t n = 0;
  for (const Segment& g : segments(s)) n += g.tokens;
  return n;
}

int64_t SourceLayout::windows(Split s, int64_t seq_len) const {
  int64_t n = 0;
  for (const Segment& g : segments(s)) n += g.tokens > seq_len ? (g.tokens - 1) / seq_len : 0;
  return n;
}

std::string builtin_corpus_path() {
  if (const char* p = std::getenv("SCALELAB_DATA"); p && *p) return p;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/scalelab/data/kjv.txt";
}

std::string text_cache(const std::string& file) {
  const std::string root = cache_root() + "/tokens";
  const std::string dir = root + "/" + file_hash(file) + "-byte-v1";
  if (fs::exists(dir + "/manifest.json")) return dir;
  const std::string tmp = fmt::format("{}.tmp-{}", dir, ::getpid());
  remove_tree(tmp);
  try {
    fs::create_directories(tmp);
    write_manifest(tmp, build_text_cache(file, tmp));
  } catch (...) {
    remove_tree(tmp);
    throw;
  }
  // Another process may have made the same cache meanwhile: its copy is as good.
  if (::rename(tmp.c_str(), dir.c_str()) != 0) {
    remove_tree(tmp);
    if (!fs::exists(dir + "/manifest.json"))
      throw DataError(dir + ": cannot create the token cache: " + std::strerror(errno));
  }
  return dir;
}

SourceLayout resolve_source(const std::string& source) {
  SourceLayout L;
  if (starts_with(source, "shards:")) {
    L = from_shards(source.substr(7));
    // (A text file too small to hold anything out is reported as too short for seq_len.)
    for (const Split s : {Split::Train, Split::Validation})
      if (L.tokens(s) == 0)
        throw DataError(L.origin + ": the " + to_string(s) +
                        " split is empty (no such shard, or no tokens in it)");
  } else if (starts_with(source, "tokens:")) {
    L = from_flat_u16(source.substr(7));
  } else {
    std::string path = source;
    if (source == "builtin:kjv") {
      path = builtin_corpus_path();
      if (!fs::exists(path))
        throw DataError("built-in corpus '" + path + "' is missing; run scripts/setup.sh (or set SCALELAB_DATA)");
    } else if (starts_with(source, "text:")) {
      path = source.substr(5);
    } else if (fs::is_directory(source)) {
      return resolve_source("shards:" + source);
    }
    if (!fs::exists(path)) throw DataError(path + ": no such file");
    L = from_shards(text_cache(path));
    L.vocab_exact = false;  // byte tokens feed any vocab >= 256, as they always have
    L.origin = path;
  }
  L.source = source;
  return L;
}

}  // namespace scalelab::data
