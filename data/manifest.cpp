#include "data/manifest.h"

#include <cinttypes>
#include <cstdio>
#include <fstream>

#include "data/files.h"
#include "data/format.h"

namespace scalelab::data {
namespace {

constexpr const char* kFormat = "scalelab-shards";
constexpr int kVersion = 1;

template <typename T>
T field(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key))
    throw DataError(where + ": missing field '" + key + "'");
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw DataError(where + ": field '" + key + "' has the wrong type");
  }
}

uint64_t parse_hex64(const std::string& s, const std::string& where) {
  uint64_t v = 0;
  if (s.size() != 16 || std::sscanf(s.c_str(), "%" SCNx64, &v) != 1)
    throw DataError(where + ": field 'xxh3' is not 16 hex digits");
  return v;
}

ShardEntry shard_from_json(const nlohmann::json& j, const std::string& where) {
  ShardEntry e;
  e.file = field<std::string>(j, "file", where);
  const auto split = field<std::string>(j, "split", where);
  if (split != "train" && split != "validation")
    throw DataError(where + ": split '" + split + "' is neither train nor validation");
  e.split = split == "train" ? Split::Train : Split::Validation;
  e.tokens = field<int64_t>(j, "tokens", where);
  e.documents = field<int64_t>(j, "documents", where);
  e.max_token = field<int64_t>(j, "max_token", where);
  e.xxh3 = parse_hex64(field<std::string>(j, "xxh3", where), where);
  if (e.file.empty() || e.file.find('/') != std::string::npos)
    throw DataError(where + ": shard file '" + e.file + "' must be a plain file name");
  return e;
}

}  // namespace

const char* to_string(Split s) { return s == Split::Train ? "train" : "validation"; }

std::string hex64(uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016" PRIx64, v);
  return b;
}

int64_t Manifest::tokens(Split s) const {
  int64_t n = 0;
  for (const ShardEntry& e : shards) n += e.split == s ? e.tokens : 0;
  return n;
}

int64_t Manifest::documents(Split s) const {
  int64_t n = 0;
  for (const ShardEntry& e : shards) n += e.split == s ? e.documents : 0;
  return n;
}

nlohmann::json to_json(const Manifest& m) {
  nlohmann::json shards = nlohmann::json::array();
  for (const ShardEntry& e : m.shards)
    shards.push_back({{"file", e.file}, {"split", to_string(e.split)}, {"tokens", e.tokens},
                      {"documents", e.documents}, {"max_token", e.max_token},
                      {"xxh3", hex64(e.xxh3)}});
  const TokenizerInfo& t = m.tokenizer;
  return {{"format", kFormat},
          {"version", kVersion},
          {"tokenizer",
           {{"type", t.type}, {"model", t.model}, {"file", t.file}, {"vocab", t.vocab}, {"eot", t.eot}}},
          {"vocab", t.vocab},
          {"dtype", m.width == 2 ? "uint16" : "uint32"},
          {"documents", {{"train", m.documents(Split::Train)}, {"validation", m.documents(Split::Validation)}}},
          {"tokens", {{"train", m.tokens(Split::Train)}, {"validation", m.tokens(Split::Validation)}}},
          {"val_fraction", m.val_fraction},
          {"documents_from", m.documents_from},
          {"input_bytes", m.input_bytes},
          {"inputs", m.inputs},
          {"shards", shards}};
}

Manifest manifest_from_json(const nlohmann::json& j, const std::string& path) {
  if (field<std::string>(j, "format", path) != kFormat)
    throw DataError(path + ": field 'format' is not '" + kFormat + "'");
  if (field<int>(j, "version", path) != kVersion)
    throw DataError(path + ": manifest version " + std::to_string(field<int>(j, "version", path)) +
                    " is not " + std::to_string(kVersion));
  Manifest m;
  const auto& t = j.at("tokenizer");
  const std::string tw = path + ": tokenizer";
  m.tokenizer.type = field<std::string>(t, "type", tw);
  m.tokenizer.model = field<std::string>(t, "model", tw);
  m.tokenizer.file = field<std::string>(t, "file", tw);
  m.tokenizer.vocab = field<int64_t>(t, "vocab", tw);
  m.tokenizer.eot = field<int64_t>(t, "eot", tw);
  if (m.tokenizer.type != "byte" && m.tokenizer.type != "sentencepiece")
    throw DataError(tw + ": unknown type '" + m.tokenizer.type + "'");
  if (m.tokenizer.vocab < 1 || m.tokenizer.eot < 0 || m.tokenizer.eot >= m.tokenizer.vocab)
    throw DataError(tw + ": vocab " + std::to_string(m.tokenizer.vocab) + " / eot " +
                    std::to_string(m.tokenizer.eot) + " out of range");
  if (field<int64_t>(j, "vocab", path) != m.tokenizer.vocab)
    throw DataError(path + ": field 'vocab' disagrees with the tokenizer's");
  const auto dtype = field<std::string>(j, "dtype", path);
  if (dtype != "uint16" && dtype != "uint32")
    throw DataError(path + ": field 'dtype' is '" + dtype + "', not uint16 or uint32");
  m.width = dtype == "uint16" ? 2 : 4;
  m.val_fraction = field<double>(j, "val_fraction", path);
  m.documents_from = field<std::string>(j, "documents_from", path);
  m.input_bytes = field<int64_t>(j, "input_bytes", path);
  m.inputs = field<std::vector<std::string>>(j, "inputs", path);
  const auto& shards = j.at("shards");
  if (!shards.is_array()) throw DataError(path + ": field 'shards' is not a list");
  for (size_t i = 0; i < shards.size(); ++i)
    m.shards.push_back(shard_from_json(shards[i], path + ": shards[" + std::to_string(i) + "]"));
  return m;
}

Manifest read_manifest(const std::string& dir) {
  const std::string path = dir + "/manifest.json";
  std::ifstream in(path);
  if (!in) throw DataError(path + ": cannot open");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  return manifest_from_json(j, path);
}

void write_manifest(const std::string& dir, const Manifest& m) {
  write_file_atomic(dir + "/manifest.json", to_json(m).dump(1) + "\n");
}

}  // namespace scalelab::data
