#include "bench/data/corpus.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "data/source.h"

namespace fs = std::filesystem;

namespace scalelab::bench {
namespace {

std::vector<std::string> source_lines() {
  std::vector<std::string> lines;
  std::ifstream in(data::builtin_corpus_path());
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) lines.push_back(l);
  if (!lines.empty()) return lines;
  std::mt19937 rng(1);  // no built-in corpus: pseudo-words with a Zipf-like spread
  const char* syl[] = {"ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "an", "el", "is", "or", "um", "th"};
  for (int i = 0; i < 30000; ++i) {
    std::string l;
    for (int w = 0; w < 12; ++w) {
      const int n = 1 + static_cast<int>(rng() % 3);
      for (int s = 0; s < n; ++s) l += syl[std::min<unsigned>(rng() % 14, rng() % 14)];
      l += w == 11 ? "." : " ";
    }
    lines.push_back(l);
  }
  return lines;
}

}  // namespace

Corpus write_corpus(const std::string& dir, int64_t bytes, int files) {
  Corpus c;
  c.text_dir = dir + "/text";
  c.jsonl = dir + "/corpus.jsonl";
  const std::string stamp = dir + "/corpus.done";
  if (std::ifstream in(stamp); in >> c.bytes >> c.documents && c.bytes >= bytes) return c;
  fs::create_directories(c.text_dir);
  const std::vector<std::string> lines = source_lines();
  std::mt19937_64 rng(7);
  std::ofstream jl(c.jsonl, std::ios::binary);
  c.bytes = 0;
  c.documents = 0;
  for (int f = 0; f < files; ++f) {
    std::ofstream out(c.text_dir + "/part_" + std::to_string(f) + ".txt", std::ios::binary);
    while (c.bytes < bytes * (f + 1) / files) {
      std::string doc;
      const size_t start = rng() % lines.size(), n = 20 + rng() % 41;
      for (size_t i = 0; i < n; ++i) doc += lines[(start + i) % lines.size()] + "\n";
      out << doc << "\n";
      jl << nlohmann::json({{"text", doc}}).dump() << "\n";
      c.bytes += static_cast<int64_t>(doc.size());
      ++c.documents;
    }
  }
  std::ofstream(stamp) << c.bytes << " " << c.documents << "\n";
  return c;
}

}  // namespace scalelab::bench
