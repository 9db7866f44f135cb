// Shared by the trainer tests: a temp folder with a small deterministic text
// corpus, a tiny run spec, and a database row for it (claimed by "w", or not).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "db/db.h"
#include "models/spec/run_spec.h"
#include "tests/common/temp_dir.h"

namespace scalelab::testing {

struct Fixture {
  TempDir tmp{"trainer"};
  std::filesystem::path dir = tmp.path();
  std::string corpus;
  Fixture() {
    corpus = (dir / "corpus.txt").string();
    std::ofstream out(corpus);
    for (int i = 0; i < 4000; ++i) out << "the quick brown fox " << i % 97 << " jumps over the lazy dog\n";
  }
};

// DESCRIPTOR on 8 x 32 tokens a step for STEPS steps, cosine lr 3e-3, warmup 2.
inline spec::RunSpec tiny_spec(const std::string& data, int64_t steps,
                               const std::string& descriptor = "softmax:L2:d32:h2:T32") {
  spec::RunSpec s;
  s.model = spec::parse_descriptor(descriptor);
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

// Adds the run of S, pending; returns its id.
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

inline db::Run insert(db::Database& db, const spec::RunSpec& s) {
  const std::string id = add_run(db, s);
  EXPECT_TRUE(db.claim_run(id, "w"));
  return *db.get_run(id);
}

}  // namespace scalelab::testing
