// The report from a small temporary database of synthetic runs and metrics.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "analysis/export.h"
#include "analysis/fits.h"
#include "analysis/report.h"
#include "analysis/svg.h"
#include "db/db.h"
#include "tests/analysis/synthetic.h"

namespace scalelab::analysis {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Two architectures, 4 sizes x 3 token ratios each; "lightning" is a bit
// better than softmax at every size, so its multiplier must exceed 1.
std::vector<RunPoint> two_arch_sweep() {
  testing::SweepSpec s;
  s.sizes = testing::logspace(1e6, 3e7, 4);
  s.tokens_per_n = {5, 20, 80};
  s.noise = 0.002;
  s.curve_points = 6;
  std::vector<RunPoint> runs = testing::make_sweep(s);
  s.arch = "lightning";
  s.law.E = 1.6;
  s.seed = 2;
  for (RunPoint& r : testing::make_sweep(s)) runs.push_back(r);
  return runs;
}

TEST(Report, WritesSelfContainedHtmlAndExports) {
  const fs::path dir = fs::temp_directory_path() / ("scalelab_report_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string dbpath = (dir / "sweep.db").string();
  fs::create_directories(dir);
  db::Database db(dbpath);
  testing::insert_sweep(db, two_arch_sweep());

  ReportInput in;
  in.source = dbpath;
  in.runs = load_runs(db, {});
  ASSERT_EQ(in.runs.size(), 24u);
  FitOptions opt;
  opt.bootstrap = 20;
  opt.chinchilla3_starts = Eigen::MatrixXd(1, 5);
  opt.chinchilla3_starts << 6, 6, 0.5, 0.3, 0.3;
  in.suite = run_fits(in.runs, opt);
  for (const FitResult& f : in.suite.fits) {
    db::Fit row{0, f.method, f.arch, f.n_points, to_json(f).dump(), ""};
    db.replace_fit(row);
    db.replace_fit(row);  // a re-fit replaces, it does not pile up
  }
  EXPECT_EQ(db.fits().size(), in.suite.fits.size());

  const std::string index = write_report((dir / "out").string(), in);
  for (const char* f : {"index.html", "fits.json", "fits.csv", "runs.csv", "loss_vs_compute.svg"})
    EXPECT_TRUE(fs::exists(dir / "out" / f)) << f;
  const std::string html = slurp(index);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("<table>"), std::string::npos);
  EXPECT_NE(html.find("lightning fit E + A * C^-alpha"), std::string::npos);
  EXPECT_NE(html.find("multiplier vs softmax"), std::string::npos);
  EXPECT_NE(html.find("IsoFLOP profiles"), std::string::npos);
  EXPECT_NE(html.find("(log scale)"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // no fetches
  EXPECT_EQ(html.find("<script"), std::string::npos);

  const std::string svg = slurp(dir / "out" / "loss_vs_compute.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);

  const FitSuite back = suite_from_json(nlohmann::json::parse(slurp(dir / "out" / "fits.json")));
  ASSERT_EQ(back.fits.size(), in.suite.fits.size());
  const std::string runs_csv = slurp(dir / "out" / "runs.csv");
  EXPECT_EQ(std::count(runs_csv.begin(), runs_csv.end(), '\n'), 25);

  // The comparison says lightning beats softmax at every budget.
  bool compared = false;
  for (const FitResult& f : back.fits) {
    if (f.method != "compare") continue;
    compared = true;
    EXPECT_EQ(f.arch, "lightning");
    for (const Estimate& e : f.derived)
      if (e.name == "multiplier") {
        EXPECT_GT(e.value, 1.0) << e.at;
        EXPECT_LE(e.lo, e.value);
      }
  }
  EXPECT_TRUE(compared);
}

TEST(Svg, LogAxesLegendAndEscaping) {
  Chart c{"a < b", "x", "y"};
  Series pts;
  pts.label = "s&p";
  pts.color = "#000";
  pts.x = {1, 10, 100};
  pts.y = {3, 2, 1.5};
  const std::string s = render_svg(c, {pts});
  EXPECT_NE(s.find("a &lt; b"), std::string::npos);
  EXPECT_NE(s.find("s&amp;p"), std::string::npos);
  EXPECT_NE(s.find(">10<"), std::string::npos);  // a decade tick
  pts.x = {-1};
  pts.y = {1};
  EXPECT_THROW(render_svg(c, {pts}), std::invalid_argument);
}

}  // namespace
}  // namespace scalelab::analysis
