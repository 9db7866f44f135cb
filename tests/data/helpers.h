// Helpers for the data tests: files written byte by byte in llm.c's layout,
// corpora, and this process's resident memory.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/manifest.h"

namespace scalelab::testing {

// llm.c's .bin written by hand: 256 little-endian int32 (magic, version,
// count, zeros), then the tokens as uint16 (version 1) or uint32. COUNT
// defaults to the number of tokens given (a lie makes a truncated file).
inline void write_llmc_shard(const std::filesystem::path& p, const std::vector<uint32_t>& tokens,
                             int32_t magic = 20240520, int32_t version = 1, int64_t count = -1) {
  std::ofstream out(p, std::ios::binary);
  int32_t header[256] = {};
  header[0] = magic;
  header[1] = version;
  header[2] = static_cast<int32_t>(count < 0 ? static_cast<int64_t>(tokens.size()) : count);
  out.write(reinterpret_cast<const char*>(header), sizeof header);
  for (uint32_t t : tokens) {
    if (version == 1) {
      const uint16_t v = static_cast<uint16_t>(t);
      out.write(reinterpret_cast<const char*>(&v), 2);
    } else {
      out.write(reinterpret_cast<const char*>(&t), 4);
    }
  }
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

// N documents of varied words, each ending in a newline; deterministic.
inline std::vector<std::string> documents(int n, uint32_t seed = 1) {
  static const char* words[] = {"the", "river", "ran", "past", "old", "mills", "and", "green",
                                "fields", "while", "seven", "birds", "sang", "of", "quiet", "rain",
                                "Über", "café", "naïve", "42", "1999", "zebra", "quartz", "jumps"};
  std::vector<std::string> out;
  uint32_t x = seed;
  for (int d = 0; d < n; ++d) {
    std::string s;
    x = x * 1664525u + 1013904223u;
    const int len = 8 + static_cast<int>(x >> 26);
    for (int w = 0; w < len; ++w) {
      x = x * 1664525u + 1013904223u;
      s += std::string(w ? " " : "") + words[(x >> 16) % 24];
    }
    out.push_back(s + ".\n");
  }
  return out;
}

// Resident set size of this process, in bytes (/proc/self/statm).
inline int64_t rss_bytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<int64_t>(resident) * ::sysconf(_SC_PAGESIZE);
}

// A shard set of TRAIN_BYTES (a sparse file: header, then holes that read as
// token 0) and a small real validation shard, with its manifest; made in
// milliseconds whatever its size, and it occupies no disk.
inline void write_sparse_shard_set(const std::filesystem::path& dir, int64_t train_bytes) {
  std::filesystem::create_directories(dir);
  const int64_t train_tokens = (train_bytes - 1024) / 2;
  write_llmc_shard(dir / "train_000000.bin", {}, 20240520, 1, train_tokens);
  std::filesystem::resize_file(dir / "train_000000.bin", 1024 + train_tokens * 2);
  std::vector<uint32_t> val(100000);
  for (size_t i = 0; i < val.size(); ++i) val[i] = static_cast<uint32_t>(i * 7 % 256);
  write_llmc_shard(dir / "val_000000.bin", val);
  data::Manifest m;
  m.documents_from = "file";
  m.val_fraction = 0.005;
  m.shards = {{"train_000000.bin", data::Split::Train, train_tokens, 1, 0, 0},
              {"val_000000.bin", data::Split::Validation, static_cast<int64_t>(val.size()), 1, 255, 0}};
  std::ofstream(dir / "manifest.json") << data::to_json(m).dump(1);
}

}  // namespace scalelab::testing
