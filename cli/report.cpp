// scalelab report: a self-contained HTML report (inline SVG) of the runs and
// their fits, with CSV/JSON exports. Uses the fits stored by `scalelab fit`
// when they were made from exactly the runs that are finished now; otherwise
// (none stored, or out of date) it fits in memory, stores nothing, and says
// so; with --stored it shows out-of-date fits anyway, under a warning.
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "analysis/export.h"
#include "analysis/report.h"
#include "analysis/stored.h"
#include "cli/command.h"
#include "cli/stage_gates.h"
#include "db/db.h"
#include "models/spec/spec.h"

namespace scalelab::cli {
namespace {

struct ReportArgs {
  std::string out = "report";
  int bootstrap = 200;
  uint64_t seed = 0;
  bool stored = false;
};

// One line per gated stage: "demo stage s2: open, gate '...': passed (numbers)".
std::vector<std::string> stage_verdicts(db::Database& db) {
  std::vector<std::string> out;
  for (const db::Stage& s : db.stages())
    if (std::string line = describe_stage(s); !line.empty()) out.push_back(s.sweep + " " + line);
  return out;
}

// The runs that have evals, with what the recall charts need. The share of
// softmax layers is the x axis of "recall vs ratio": softmax is the full
// attention every other mixer is measured against, so it is named here.
std::vector<analysis::EvalRun> eval_runs(db::Database& db, const std::vector<db::EvalRow>& evals) {
  std::vector<analysis::EvalRun> out;
  if (evals.empty()) return out;
  std::set<std::string> ids;
  for (const db::EvalRow& e : evals) ids.insert(e.run_id);
  for (const db::Run& r : db.list_runs()) {
    if (!ids.count(r.id)) continue;
    analysis::EvalRun e;
    e.id = r.id;
    e.name = r.name;
    e.arch = r.arch;
    e.params = static_cast<double>(r.params);
    e.task = r.spec_json.find("\"task\":\"mqar\"") != std::string::npos ? "mqar" : "lm";
    try {
      const auto spec = nlohmann::json::parse(r.spec_json);
      spec::ModelSpec m = spec::parse_descriptor(spec.at("model").get<std::string>());
      spec::resolve(m);
      int soft = 0;
      for (spec::MixerKind k : m.layers) soft += k->name == "softmax";
      e.softmax_share = m.layers.empty() ? 0.0 : static_cast<double>(soft) / m.layers.size();
      e.seq_len = m.seq_len;
    } catch (const std::exception&) {
      continue;  // a spec this build cannot read has no place on the charts
    }
    out.push_back(std::move(e));
  }
  return out;
}

// Stored fits, or fresh ones when they are missing or out of date.
void choose_fits(analysis::ReportInput& in, const analysis::StoredSuite& stored,
                 const ReportArgs& a) {
  const std::string stale = analysis::stale_reason(stored, in.runs);
  if (stale.empty()) {
    in.suite = stored.suite;
    in.fits_origin = fmt::format("{} stored by `scalelab fit` at {}, from these runs",
                                 stored.suite.fits.size(), stored.created_at);
    return;
  }
  if (a.stored && !stored.suite.fits.empty()) {
    in.suite = stored.suite;
    in.fits_origin = fmt::format("{} stored by `scalelab fit` at {}", stored.suite.fits.size(),
                                 stored.created_at);
    in.warning = "These fits are out of date: " + stale +
                 ". Run `scalelab fit` (or drop --stored) to fit the runs shown here.";
    return;
  }
  analysis::FitOptions o;
  o.bootstrap = a.bootstrap;
  o.seed = a.seed;
  o.compute = in.compute;
  o.n_axis = in.n_axis;
  in.suite = analysis::run_fits(in.runs, o);
  in.fits_origin = "fitted for this report (nothing stored; run `scalelab fit` to store fits)";
  if (!stored.suite.fits.empty())
    in.warning = "The stored fits were not used: " + stale + "; these were fitted for this report.";
}

int report(const Context& ctx, const ReportArgs& a) {
  const std::string& path = ctx.db;
  auto dbp = open_existing(ctx, db::OpenMode::ReadOnly);
  db::Database& db = *dbp;
  analysis::ReportInput in;
  in.source = path;
  const analysis::StoredSuite stored = analysis::load_suite(db);
  // Plot the runs on the axes the stored fits used.
  if (!stored.suite.fits.empty()) {
    const auto& x = stored.suite.fits.front().extra;
    in.compute = x.value("compute", "exact") == "6nd" ? analysis::Compute::SixND
                                                       : analysis::Compute::Exact;
    in.n_axis = x.value("n_axis", "nonembedding") == "total" ? analysis::NAxis::Total
                                                              : analysis::NAxis::NonEmbedding;
  }
  analysis::DataOptions d;
  d.compute = in.compute;
  d.n_axis = in.n_axis;
  const std::vector<std::string> excluded = analysis::excluded_runs(db, d);
  in.evals = db.evals();
  in.eval_runs = eval_runs(db, in.evals);
  try {
    in.runs = analysis::load_runs(db, d);
    if (in.runs.empty() && in.evals.empty()) throw analysis::DataError("no finished runs to report");
    if (!in.runs.empty()) choose_fits(in, stored, a);
  } catch (const analysis::DataError& e) {
    throw InputError(path + ": " + e.what());
  }
  in.suite.notes.insert(in.suite.notes.end(), excluded.begin(), excluded.end());
  in.stages = stage_verdicts(db);
  const std::string index = analysis::write_report(a.out, in);
  if (!in.warning.empty()) fmt::print(stderr, "report: warning: {}\n", in.warning);
  for (const std::string& n : in.suite.notes) fmt::print("note: {}\n", n);
  fmt::print("report: {} ({} runs, {} fits: {}; {} evaluated runs; also fits.json, fits.csv, "
             "runs.csv{})\n",
             index, in.runs.size(), in.suite.fits.size(), in.fits_origin, in.eval_runs.size(),
             in.runs.empty() ? "" : ", loss_vs_compute.svg");
  return 0;
}

void add_report(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand(
      "report", "Write an HTML report (inline SVG plots, fit and run tables) with CSV/JSON exports");
  auto a = std::make_shared<ReportArgs>();
  sub->add_option("--out", a->out, "output folder")->capture_default_str();
  sub->add_option("--bootstrap", a->bootstrap,
                  "bootstrap replicates when the report fits itself (no stored fits, or stored "
                  "fits older than the finished runs)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  sub->add_option("--seed", a->seed, "bootstrap seed")->capture_default_str();
  sub->add_flag("--stored", a->stored,
                "show the stored fits even when finished runs have changed since (with a warning)");
  sub->callback([&ctx, a] { ctx.rc = report(ctx, *a); });
}
SCALELAB_COMMAND(add_report);

}  // namespace
}  // namespace scalelab::cli
