// What the fits read: finished runs as (N, D, C, loss) points with their
// training curves, from the database (db/db.h) or from a points CSV.
//
// Axes, stated in every fit result:
//   N  non-embedding parameters by default (Kaplan et al. 2020 sec. 2.1), or
//      total parameters with NAxis::Total;
//   D  training tokens;
//   C  the run's stored training FLOPs (exact counts from models/spec, including
//      attention and state terms) by default, or 6 N D with Compute::SixND.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace scalelab::db { class Database; }

namespace scalelab::analysis {

enum class Compute { Exact, SixND };
enum class NAxis { NonEmbedding, Total };
std::string to_string(Compute c);
std::string to_string(NAxis n);

struct CurvePoint {
  double d = 0;     // tokens seen
  double c = 0;     // FLOPs spent up to here (the run's C scaled by d / D)
  double loss = 0;  // validation loss (train loss where no validation was logged)
  // Each as logged; NaN where that row has none. Plots tell them apart.
  double train = std::numeric_limits<double>::quiet_NaN();
  double val = std::numeric_limits<double>::quiet_NaN();
  bool own = true;  // false: logged by the parent, before this branch started
};

// A WSD parent (models/spec/wsd.h) measures no point of its own: its branches
// do, and they are not independent of each other (they share the parent's
// stable phase), so the bootstrap resamples a parent with all its branches.
struct RunPoint {
  std::string id, name, arch;
  std::string parent;       // a WSD branch: its parent run; "" otherwise
  int64_t branch_step = 0;  // a WSD branch: the parent's step it started from
  // The independent unit the bootstrap resamples: the parent, or the run itself.
  const std::string& unit() const { return parent.empty() ? id : parent; }
  double n = 0;        // per NAxis
  double n_total = 0;  // total parameters, for tables
  double d = 0;        // training tokens
  double c = 0;        // per Compute
  double loss = 0;     // final validation loss
  std::vector<CurvePoint> curve;  // by increasing d; may be empty
};

struct DataOptions {
  Compute compute = Compute::Exact;
  NAxis n_axis = NAxis::NonEmbedding;
  std::optional<std::string> arch;  // only this architecture
  bool with_curves = true;
};

// Degenerate input: names the run (or point) and the field.
struct DataError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Done runs of the database as points; WSD parents are left out (their
// branches are the points) and a branch's curve starts with its parent's, up
// to its branch point. Throws DataError for a run whose final loss is missing,
// NaN, infinite or <= 0, or whose N, D or C is <= 0: a fit over such data
// would be garbage, so the error names the run and field.
std::vector<RunPoint> load_runs(db::Database& db, const DataOptions& opt);

// 16 hex digits identifying the points (ids and final losses, in any order):
// a stored fit whose digest differs from its runs' is out of date.
std::string runs_digest(const std::vector<RunPoint>& runs);
// Distinct independent units (parents and plain runs).
size_t count_units(const std::vector<RunPoint>& runs);
// Why the diverged runs of the database (of opt.arch, when set) are not fit
// points, one note each: "diverged run ID (arch, name) left out of the fits:
// non-finite training loss (nan) at step 40".
std::vector<std::string> excluded_runs(db::Database& db, const DataOptions& opt);

// The same checks for points built elsewhere (tests, CSV).
void validate(const std::vector<RunPoint>& runs);

// Architectures in first-seen order.
std::vector<std::string> architectures(const std::vector<RunPoint>& runs);
std::vector<RunPoint> of_arch(const std::vector<RunPoint>& runs, const std::string& arch);

// Error in a points file: "FILE:ROW:COLUMN: message" (row and column 1-based;
// row 1 is the header, column 0 when the whole row is wrong).
struct PointsFileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads a CSV with a header naming (in any order) params, tokens, loss; other
// columns are ignored, blank lines and lines starting with '#' are skipped.
// Values must be finite and positive. C is 6 N D (a points file has no
// architecture to count FLOPs from). Throws PointsFileError.
std::vector<RunPoint> read_points_csv(const std::string& path);

}  // namespace scalelab::analysis
