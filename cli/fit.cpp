// scalelab fit: scaling-law fits of finished runs (or of a points CSV), with
// bootstrap intervals; stored in the database, replacing earlier fits of the
// same method and architecture.
#include <fmt/format.h>

#include <unistd.h>

#include <memory>

#include "analysis/export.h"
#include "analysis/fits.h"
#include "analysis/stored.h"
#include "cli/command.h"
#include "db/db.h"

namespace scalelab::cli {
namespace {

struct FitArgs {
  std::string method = "all";
  std::string arch;
  int bootstrap = 200;
  uint64_t seed = 0;
  double level = 0.95;
  std::string compute = "exact";
  std::string params = "nonembedding";
  std::vector<double> budgets;
  std::string baseline = "softmax";
  std::string points;
  std::string format = "table";
  int threads = 0;
  bool pool = false;
};

analysis::FitOptions options_of(const FitArgs& a) {
  analysis::FitOptions o;
  if (a.method != "all") o.methods = {a.method};
  o.bootstrap = a.bootstrap;
  o.seed = a.seed;
  o.level = a.level;
  o.threads = a.threads;
  o.budgets = a.budgets;
  o.baseline = a.baseline;
  o.pool = a.pool;
  o.compute = a.compute == "6nd" ? analysis::Compute::SixND : analysis::Compute::Exact;
  o.n_axis = a.params == "total" ? analysis::NAxis::Total : analysis::NAxis::NonEmbedding;
  return o;
}

void print(const analysis::FitSuite& s, const std::string& format) {
  if (format == "json")
    fmt::print("{}\n", analysis::suite_json(s).dump(2));
  else
    fmt::print("{}", analysis::suite_text(s));
}

int fit_points(const FitArgs& a) {
  std::vector<analysis::RunPoint> pts;
  try {
    pts = analysis::read_points_csv(a.points);
  } catch (const analysis::PointsFileError& e) {
    throw InputError(e.what());
  }
  for (auto& p : pts) p.arch = "points";
  analysis::FitOptions o = options_of(a);
  o.compute = analysis::Compute::SixND;  // a points file has no FLOP counts
  o.n_axis = analysis::NAxis::Total;
  analysis::FitSuite s;
  try {
    s = analysis::run_fits(pts, o);
  } catch (const analysis::DataError& e) {
    throw InputError(a.points + ": " + e.what());
  }
  print(s, a.format);
  return s.fits.empty() ? 1 : 0;
}

int fit_db(const Context& ctx, const FitArgs& a) {
  const std::string& path = ctx.db;
  // A read-only database (archived, on a read-only mount) is fitted, not written.
  const bool writable = ::access(path.c_str(), W_OK) == 0;
  auto dbp = open_existing(ctx, writable ? db::OpenMode::ReadWrite : db::OpenMode::ReadOnly);
  db::Database& db = *dbp;
  analysis::DataOptions d;
  analysis::FitOptions o = options_of(a);
  d.compute = o.compute;
  d.n_axis = o.n_axis;
  if (!a.arch.empty()) d.arch = a.arch;
  analysis::FitSuite s;
  std::vector<analysis::RunPoint> runs;
  const std::vector<std::string> excluded = analysis::excluded_runs(db, d);
  try {
    runs = analysis::load_runs(db, d);
    s = analysis::run_fits(runs, o);
  } catch (const analysis::DataError& e) {
    std::string why = path + ": " + e.what();
    for (const std::string& n : excluded) why += "\nnote: " + n;
    throw InputError(why);
  }
  s.notes.insert(s.notes.end(), excluded.begin(), excluded.end());
  if (writable) analysis::store_suite(db, s, runs, a.arch);
  print(s, a.format);
  if (a.format != "json")
    fmt::print(writable ? "{} fit(s) stored in {}\n" : "{} fit(s); {} is read-only, nothing stored\n",
               s.fits.size(), path);
  return s.fits.empty() ? 1 : 0;
}

void add_fit(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand(
      "fit",
      "Fit scaling laws (Kaplan L(N), L(D), L(C); Chinchilla approaches 1-3) with bootstrap "
      "intervals and compare architectures; results are stored in the database");
  auto a = std::make_shared<FitArgs>();
  sub->add_option("--method", a->method, "which fits")
      ->check(CLI::IsMember({"all", "kaplan", "chinchilla1", "chinchilla2", "chinchilla3"}))
      ->capture_default_str();
  sub->add_option("--arch", a->arch, "only runs of this architecture");
  sub->add_option("--bootstrap", a->bootstrap,
                  "bootstrap replicates (resampling independent runs: a WSD parent with all its "
                  "branches counts as one); 0: none")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  sub->add_option("--seed", a->seed, "bootstrap seed")->capture_default_str();
  sub->add_option("--level", a->level, "interval coverage")
      ->check(CLI::Range(0.5, 0.999))
      ->capture_default_str();
  sub->add_option("--compute", a->compute,
                  "C axis: exact (the runs' stored training FLOPs) or 6nd (6 N D)")
      ->check(CLI::IsMember({"exact", "6nd"}))
      ->capture_default_str();
  sub->add_option("--params", a->params, "N axis: nonembedding or total parameters")
      ->check(CLI::IsMember({"nonembedding", "total"}))
      ->capture_default_str();
  sub->add_option("--budgets", a->budgets,
                  "FLOPs budgets for N_opt, D_opt and the comparison (default: smallest, middle "
                  "and largest compute of the runs; budgets outside them are extrapolations "
                  "and flagged as such)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  sub->add_option("--baseline", a->baseline, "architecture the others are compared with")
      ->capture_default_str();
  sub->add_flag("--pool", a->pool,
                "also fit one L(C) through the runs of all architectures together (off: each "
                "architecture has its own law)");
  sub->add_option("--points", a->points,
                  "fit a CSV of external points (columns params,tokens,loss) instead of the "
                  "database; nothing is stored");
  sub->add_option("--format", a->format, "output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  sub->add_option("--threads", a->threads, "worker threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  sub->callback([&ctx, a] { ctx.rc = a->points.empty() ? fit_db(ctx, *a) : fit_points(*a); });
}
SCALELAB_COMMAND(add_fit);

}  // namespace
}  // namespace scalelab::cli
