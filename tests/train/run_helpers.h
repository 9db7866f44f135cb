// The trainer tests' database set-up: a run inserted and claimed, as the
// scheduler leaves it for `scalelab train`.
#pragma once

#include <gtest/gtest.h>

#include "db/db.h"
#include "models/spec/run_spec.h"

namespace scalelab::testing {

inline db::Run insert_claimed_run(db::Database& db, const spec::RunSpec& s) {
  db::Run r;
  r.id = spec::run_id(s);
  r.sweep = "t";
  r.arch = s.model.arch;
  r.spec_json = spec::canonical_json(s);
  r.tokens = s.tokens;
  db.insert_runs({r});
  EXPECT_TRUE(db.claim_run(r.id, "w"));
  return *db.get_run(r.id);
}

}  // namespace scalelab::testing
