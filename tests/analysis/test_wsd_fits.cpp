// Fits and the report over WSD branch points: parents are not points, branch
// curves start with their parent's, the bootstrap resamples whole parents,
// extrapolations are flagged in JSON and tables, missing intervals explained,
// and the report's pictures hold what they promise.
#include <gtest/gtest.h>

#include <regex>

#include "analysis/export.h"
#include "analysis/fits.h"
#include "analysis/report.h"
#include "analysis/svg.h"
#include "db/db.h"
#include "tests/analysis/synthetic.h"

namespace scalelab::analysis {
namespace {

testing::SweepSpec wsd_spec(const std::string& arch, double e) {
  testing::SweepSpec s;
  s.arch = arch;
  s.law.E = e;
  s.sizes = testing::logspace(1e6, 3e7, 5);
  s.tokens_per_n = {5, 10, 20};
  s.noise = 0.004;
  return s;
}

TEST(WsdData, ParentsAreNotPointsAndBranchCurvesStartWithTheirParents) {
  db::Database db(":memory:");
  const std::vector<RunPoint> want = testing::insert_wsd_sweep(db, wsd_spec("softmax", 1.7));
  const std::vector<RunPoint> got = load_runs(db, {});
  ASSERT_EQ(got.size(), 15u);  // 5 parents x 3 branches; the parents themselves left out
  EXPECT_EQ(count_units(got), 5u);
  for (const RunPoint& r : got) {
    EXPECT_NE(r.parent, "") << r.id;
    EXPECT_EQ(r.unit(), r.parent);
    ASSERT_FALSE(r.curve.empty());
    EXPECT_FALSE(r.curve.front().own);  // the parent's stable phase first
    EXPECT_TRUE(r.curve.back().own);
    EXPECT_TRUE(std::isfinite(r.curve.back().val));
    for (const CurvePoint& p : r.curve) EXPECT_LE(p.d, r.d);
  }
  EXPECT_NE(runs_digest(got), runs_digest({got.begin(), got.end() - 1}));
}

// Budgets asked for beyond the runs come back flagged, with the reason, in
// the result, fits.json and the text table; the default ones never do.
TEST(WsdFits, ExtrapolationsAreFlaggedInJsonAndTables) {
  db::Database db(":memory:");
  testing::insert_wsd_sweep(db, wsd_spec("softmax", 1.7));
  const std::vector<RunPoint> runs = load_runs(db, {});
  double cmax = 0;
  for (const RunPoint& r : runs) cmax = std::max(cmax, r.c);
  FitOptions opt;
  opt.bootstrap = 40;
  opt.threads = 1;
  opt.methods = {"kaplan", "chinchilla3"};
  opt.chinchilla3_starts = Eigen::MatrixXd(1, 5);
  opt.chinchilla3_starts << 6, 6, 0.5, 0.3, 0.3;
  const FitSuite by_default = run_fits(runs, opt);
  // Default budgets lie inside the runs' compute (an N_opt outside their sizes
  // is still flagged: the law predicts it, no run measured it).
  for (const FitResult& f : by_default.fits)
    for (const Estimate& e : f.derived) {
      EXPECT_EQ(e.extrapolation.find("C "), std::string::npos) << f.method << " " << e.name;
      if (f.method == "kaplan_c") {
        EXPECT_EQ(e.extrapolation, "") << e.name << "@" << e.at;
      }
    }
  opt.budgets = {cmax / 2, 10 * cmax};
  const FitSuite asked = run_fits(runs, opt);
  const nlohmann::json j = suite_json(asked);
  int flagged = 0, inside = 0;
  for (const auto& f : j["fits"])
    for (const auto& e : f["derived"]) {
      ASSERT_TRUE(e.contains("extrapolated")) << e;
      if (e["at_flops"].get<double>() > cmax) {
        EXPECT_TRUE(e["extrapolated"].get<bool>()) << f["method"] << e;
        EXPECT_NE(e["extrapolation"].get<std::string>().find("above the runs"), std::string::npos);
        ++flagged;
      } else if (e["name"] == "loss") {
        EXPECT_FALSE(e["extrapolated"].get<bool>()) << e;
        ++inside;
      }
    }
  EXPECT_GT(flagged, 5);
  EXPECT_GT(inside, 0);
  EXPECT_NE(suite_text(asked).find("EXTRAPOLATED: C "), std::string::npos);
  EXPECT_NE(fits_csv(asked.fits).find("above the runs"), std::string::npos);
}

// The compute multiplier: by default only where both architectures have
// runs; asked for beyond, each value says which side is extrapolated.
TEST(WsdFits, MultiplierOnlyInsideBothRangesUnlessAsked) {
  db::Database db(":memory:");
  testing::insert_wsd_sweep(db, wsd_spec("softmax", 1.7));
  testing::SweepSpec l = wsd_spec("lightning", 1.6);
  l.sizes = testing::logspace(3e6, 1e8, 5);  // overlaps softmax's upper half only
  l.seed = 9;
  testing::insert_wsd_sweep(db, l);
  const std::vector<RunPoint> runs = load_runs(db, {});
  FitOptions opt;
  opt.bootstrap = 0;
  opt.methods = {"kaplan"};
  const FitSuite s = run_fits(runs, opt);
  const FitResult* cmp = nullptr;
  for (const FitResult& f : s.fits)
    if (f.method == "compare") cmp = &f;
  ASSERT_NE(cmp, nullptr);
  double sm_hi = 0, li_lo = INFINITY;
  for (const RunPoint& r : runs) {
    if (r.arch == "softmax") sm_hi = std::max(sm_hi, r.c);
    else li_lo = std::min(li_lo, r.c);
  }
  for (const Estimate& e : cmp->derived) {
    EXPECT_GE(e.at, li_lo * (1 - 1e-9));
    EXPECT_LE(e.at, sm_hi * (1 + 1e-9));
    if (e.name != "multiplier") {
      EXPECT_EQ(e.extrapolation, "") << e.name;
    }
  }
}

TEST(WsdReport, PicturesAndExplanations) {
  db::Database db(":memory:");
  testing::insert_wsd_sweep(db, wsd_spec("softmax", 1.7));
  testing::insert_wsd_sweep(db, wsd_spec("hybrid(lightning,softmax@3:1)", 1.6));
  ReportInput in;
  in.source = "synthetic";
  in.runs = load_runs(db, {});
  FitOptions opt;
  opt.bootstrap = 40;
  opt.threads = 1;
  opt.chinchilla3_starts = Eigen::MatrixXd(1, 5);
  opt.chinchilla3_starts << 6, 6, 0.5, 0.3, 0.3;
  in.suite = run_fits(in.runs, opt);
  const std::string html = report_html(in);
  // Colour per architecture: the same in every chart of every report.
  EXPECT_EQ(arch_colour("softmax"), "#1f77b4");
  EXPECT_EQ(arch_colour("hybrid(lightning,softmax@3:1)"), arch_colour("hybrid(lightning,softmax@3:1)"));
  EXPECT_NE(arch_colour("hybrid(lightning,softmax@3:1)"), arch_colour("softmax"));
  EXPECT_NE(html.find("fill=\"" + arch_colour("hybrid(lightning,softmax@3:1)") + "\""), std::string::npos);
  for (const char* want : {"Loss vs model size", "Loss vs tokens", "softmax: loss along training",
                           "softmax: approach 3", "N 1M: final losses of its branches",
                           "95% interval of each fit (band)", "<polygon", "training loss", "Brackets: 95% BCa",
                           "WSD parents, each with all its branches", "WSD branch of"})
    EXPECT_NE(html.find(want), std::string::npos) << want;
}

TEST(Svg, TicksAtOneTwoFiveSteps) {
  for (auto [lo, hi] : {std::pair{1.62, 5.47}, {2.05, 2.6}, {0.8, 9.0}, {3.1, 3.4}}) {
    const std::vector<double> t = axis_ticks(lo, hi, true);
    ASSERT_GE(t.size(), 3u) << lo;
    const double step = t[1] - t[0];
    const double m = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    const bool decades = std::fabs(t[1] / t[0] - 10) < 1e-9;
    const bool mantissas = std::fabs(t[1] / t[0] - 2) < 1e-9 || std::fabs(t[1] / t[0] - 2.5) < 1e-9;
    EXPECT_TRUE(decades || mantissas || std::fabs(m - 1) < 1e-9 || std::fabs(m - 2) < 1e-9 ||
                std::fabs(m - 5) < 1e-9)
        << lo << ".." << hi << " step " << step;
    for (size_t i = 2; !decades && !mantissas && i < t.size(); ++i)
      EXPECT_NEAR(t[i] - t[i - 1], step, 1e-9 * step);
  }
  EXPECT_EQ(axis_ticks(1e12, 1e16, true), (std::vector<double>{1e12, 1e13, 1e14, 1e15, 1e16}));
}

TEST(Svg, LegendIsNeverClipped) {
  Chart c{"t", "x", "y"};
  Series a;
  a.label = std::string(120, 'w') + " (a very long architecture descriptor)";
  a.color = "#000";
  a.x = {1, 10};
  a.y = {2, 1};
  std::vector<Series> many(30, a);
  for (size_t i = 1; i < many.size(); ++i) many[i].label = "row " + std::to_string(i);
  const std::string svg = render_svg(c, many);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex("width=\"(\\d+)\" height=\"(\\d+)\"")));
  const int width = std::stoi(m[1]), height = std::stoi(m[2]);
  EXPECT_NE(svg.find(a.label), std::string::npos);  // whole, not truncated
  // The last legend row sits inside the chart, and so does the longest label.
  double max_y = 0, max_end = 0;
  const std::regex text("<text x=\"([0-9.]+)\" y=\"([0-9.]+)\">([^<]*)</text>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), text); it != std::sregex_iterator(); ++it) {
    max_y = std::max(max_y, std::stod((*it)[2]));
    max_end = std::max(max_end, std::stod((*it)[1]) + 7.2 * (*it)[3].length());
  }
  EXPECT_LE(max_y, height - 4);
  EXPECT_LE(max_end, width);
}

}  // namespace
}  // namespace scalelab::analysis
