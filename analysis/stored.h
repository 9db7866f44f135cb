// Fits in the database: what `scalelab fit` stores and `scalelab report`
// reads back. Beside the fits (one row each) a row of method "_suite" holds
// the notes (skipped methods and why) and the digest of the runs the fits
// were made from, so a report can tell fits that are out of date.
#pragma once

#include <string>
#include <vector>

#include "analysis/data.h"
#include "analysis/fits.h"

namespace scalelab::db { class Database; }

namespace scalelab::analysis {

// Replaces every stored fit by SUITE (one transaction): a stored set of fits
// is always one fit of one set of runs, RUNS (of ARCH only, when not "").
void store_suite(db::Database& db, const FitSuite& suite, const std::vector<RunPoint>& runs,
                 const std::string& arch);

struct StoredSuite {
  FitSuite suite;
  bool found = false;      // a "_suite" row exists
  std::string created_at;  // when it was stored
  std::string arch;        // the --arch the fits were made for ("" all)
  std::string digest;      // runs_digest of the runs they were made from
  int runs = 0;
};
StoredSuite load_suite(db::Database& db);

// "" when STORED was fitted to exactly RUNS (those of its arch); otherwise why
// it is out of date, for the report to say.
std::string stale_reason(const StoredSuite& stored, const std::vector<RunPoint>& runs);

}  // namespace scalelab::analysis
