// What the trainer tests share: a small corpus in a temporary folder, a tiny
// softmax run spec, and adding a run to a database.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "db/db.h"
#include "models/spec/run_spec.h"
#include "tests/common/temp_dir.h"

namespace scalelab::testing {

struct TinyCorpus {
  explicit TinyCorpus(const std::string& tag) : tmp(tag) {
    std::ofstream out(corpus);
    for (int i = 0; i < 4000; ++i)
      out << "the quick brown fox " << i % 97 << " jumps over the lazy dog\n";
  }
  TempDir tmp;
  std::filesystem::path dir = tmp.path();
  std::string corpus = (dir / "corpus.txt").string();
};

// L2 d32, 8 sequences of 32 tokens a step, STEPS steps, warmup 2 steps.
inline spec::RunSpec tiny_spec(const std::string& data, int64_t steps) {
  spec::RunSpec s;
  s.model = spec::parse_descriptor("softmax:L2:d32:h2:T32");
  s.batch_tokens = 8 * 32;
  s.tokens = steps * s.batch_tokens;
  s.lr = 3e-3;
  s.warmup = 2;
  s.data = data;
  s.eval_every = 5;
  s.eval_tokens = 32 * 16;
  s.seed = 3;
  return s;
}

// Inserts the run of spec S (pending) and returns its id.
inline std::string add_run(db::Database& db, const spec::RunSpec& s) {
  db::Run r;
  r.id = spec::run_id(s);
  r.sweep = "t";
  r.arch = s.model.arch;
  r.spec_json = spec::canonical_json(s);
  r.tokens = s.tokens;
  db.insert_runs({r});
  return r.id;
}

}  // namespace scalelab::testing
