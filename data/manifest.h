// manifest.json: what a shard set made by `scalelab data prepare` holds.
//
//   {"format": "scalelab-shards", "version": 1,
//    "tokenizer": {"type": "byte" | "sentencepiece", "model": "bpe" | "unigram" | "",
//                  "file": "tokenizer.model" (beside the manifest) | "", "vocab": V, "eot": E},
//    "vocab": V, "dtype": "uint16" | "uint32",
//    "documents": {"train": n, "validation": m}, "tokens": {"train": n, "validation": m},
//    "val_fraction": f, "documents_from": "file" | "paragraph" | "line" | "blocks",
//    "input_bytes": b, "inputs": [...],
//    "shards": [{"file": "train_000000.bin", "split": "train", "tokens": n,
//                "documents": d, "max_token": k, "xxh3": "16 hex digits"}, ...]}
//
// xxh3 is XXH3-64 of the shard's token bytes (after the 1024-byte header).
// Shard files are named relative to the manifest's folder.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace scalelab::data {

enum class Split { Train, Validation };
const char* to_string(Split s);

struct TokenizerInfo {
  std::string type = "byte";  // byte | sentencepiece
  std::string model;          // sentencepiece: bpe | unigram (as trained or loaded)
  std::string file;           // sentencepiece: the .model beside the manifest
  int64_t vocab = 256;
  int64_t eot = 0;            // the end-of-text token that precedes every document
};

struct ShardEntry {
  std::string file;
  Split split = Split::Train;
  int64_t tokens = 0;
  int64_t documents = 0;  // documents that start in this shard
  int64_t max_token = -1;
  uint64_t xxh3 = 0;
};

struct Manifest {
  TokenizerInfo tokenizer;
  int width = 2;  // bytes per token in every shard
  double val_fraction = 0;
  std::string documents_from;
  int64_t input_bytes = 0;
  std::vector<std::string> inputs;
  std::vector<ShardEntry> shards;

  int64_t tokens(Split s) const;
  int64_t documents(Split s) const;
};

nlohmann::json to_json(const Manifest& m);
// Throws DataError naming PATH and the field for a bad manifest.
Manifest manifest_from_json(const nlohmann::json& j, const std::string& path);
// DIR/manifest.json, or throws DataError naming it.
Manifest read_manifest(const std::string& dir);
// Written to a temporary file, fsynced and renamed: never half-written.
void write_manifest(const std::string& dir, const Manifest& m);

std::string hex64(uint64_t v);

}  // namespace scalelab::data
