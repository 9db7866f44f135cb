// scalelab report: a self-contained HTML report (inline SVG) of the runs and
// their fits, with CSV/JSON exports. Uses the fits stored by `scalelab fit`;
// when there are none it fits in memory (stores nothing) and says so.
#include <fmt/format.h>

#include <memory>

#include "analysis/export.h"
#include "analysis/report.h"
#include "cli/command.h"
#include "db/db.h"

namespace scalelab::cli {
namespace {

struct ReportArgs {
  std::string out = "report";
  int bootstrap = 200;
  uint64_t seed = 0;
};

analysis::FitSuite stored_fits(db::Database& db, std::string& created) {
  analysis::FitSuite s;
  for (const db::Fit& f : db.fits()) {
    s.fits.push_back(analysis::fit_result_from_json(nlohmann::json::parse(f.result_json)));
    created = std::max(created, f.created_at);
  }
  return s;
}

int report(const std::string& path, const ReportArgs& a) {
  db::Database db(path);
  analysis::ReportInput in;
  in.source = path;
  std::string created;
  in.suite = stored_fits(db, created);
  // Plot the runs on the axes the stored fits used.
  if (!in.suite.fits.empty()) {
    const auto& x = in.suite.fits.front().extra;
    in.compute = x.value("compute", "exact") == "6nd" ? analysis::Compute::SixND
                                                       : analysis::Compute::Exact;
    in.n_axis = x.value("n_axis", "nonembedding") == "total" ? analysis::NAxis::Total
                                                              : analysis::NAxis::NonEmbedding;
  }
  analysis::DataOptions d;
  d.compute = in.compute;
  d.n_axis = in.n_axis;
  try {
    in.runs = analysis::load_runs(db, d);
    if (in.runs.empty()) throw analysis::DataError("no finished runs to report");
    if (in.suite.fits.empty()) {
      analysis::FitOptions o;
      o.bootstrap = a.bootstrap;
      o.seed = a.seed;
      in.suite = analysis::run_fits(in.runs, o);
      in.fits_origin = "none stored; fitted for this report (run `scalelab fit` to store them)";
    } else {
      in.fits_origin = fmt::format("{} stored by `scalelab fit` (latest {})", in.suite.fits.size(),
                                   created);
    }
  } catch (const analysis::DataError& e) {
    throw InputError(path + ": " + e.what());
  }
  const std::string index = analysis::write_report(a.out, in);
  for (const std::string& n : in.suite.notes) fmt::print("note: {}\n", n);
  fmt::print("report: {} ({} runs, {} fits; also fits.json, fits.csv, runs.csv, "
             "loss_vs_compute.svg)\n",
             index, in.runs.size(), in.suite.fits.size());
  return 0;
}

void add_report(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand(
      "report", "Write an HTML report (inline SVG plots, fit and run tables) with CSV/JSON exports");
  auto a = std::make_shared<ReportArgs>();
  sub->add_option("--out", a->out, "output folder")->capture_default_str();
  sub->add_option("--bootstrap", a->bootstrap,
                  "bootstrap replicates when no fits are stored and the report fits itself")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  sub->add_option("--seed", a->seed, "bootstrap seed")->capture_default_str();
  sub->callback([&ctx, a] { ctx.rc = report(ctx.db, *a); });
}
SCALELAB_COMMAND(add_report);

}  // namespace
}  // namespace scalelab::cli
