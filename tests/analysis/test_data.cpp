// Inputs of the fits: the database, points files, and degenerate data.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "analysis/data.h"
#include "analysis/fits.h"
#include "db/db.h"
#include "tests/analysis/synthetic.h"

namespace scalelab::analysis {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  const auto p = std::filesystem::temp_directory_path() / ("scalelab_analysis_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << text;
  return p.string();
}

std::string error_of(const std::string& path) {
  try {
    read_points_csv(path);
  } catch (const PointsFileError& e) {
    return e.what();
  }
  return "";
}

TEST(PointsCsv, ReadsColumnsInAnyOrderSkippingComments) {
  const std::string p =
      write_temp("ok.csv", "# digitised\nloss,params,extra,tokens\n3.0,1e8,x,2e9\n\n2.5, 1e9 ,y,2e10\n");
  const auto pts = read_points_csv(p);
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(pts[1].n, 1e9);
  EXPECT_EQ(pts[1].d, 2e10);
  EXPECT_EQ(pts[1].loss, 2.5);
  EXPECT_EQ(pts[1].c, 6 * 1e9 * 2e10);
}

TEST(PointsCsv, ErrorsNameFileRowAndColumn) {
  std::string p = write_temp("bad1.csv", "params,tokens,loss\n1e8,2e9,3\n1e9,abc,2.5\n");
  EXPECT_EQ(error_of(p), p + ":3:2: tokens 'abc' is not a number");
  p = write_temp("bad2.csv", "params,tokens,loss\n1e8,2e9,-3\n");
  EXPECT_EQ(error_of(p), p + ":2:3: loss must be finite and positive, got -3");
  p = write_temp("bad3.csv", "params,tokens,loss\n1e8,2e9,nan\n");
  EXPECT_EQ(error_of(p), p + ":2:3: loss must be finite and positive, got nan");
  p = write_temp("bad4.csv", "params,loss\n1e8,3\n");
  EXPECT_EQ(error_of(p), p + ":1:0: header has no 'tokens' column (need params,tokens,loss)");
  p = write_temp("bad5.csv", "params,tokens,loss\n1e8,2e9\n");
  EXPECT_EQ(error_of(p), p + ":2:0: 2 cells, the header has 3");
  p = write_temp("bad6.csv", "params,tokens,loss\n");
  EXPECT_EQ(error_of(p), p + ":2:0: no data rows");
  EXPECT_EQ(error_of("/nonexistent/x.csv"), "/nonexistent/x.csv:0:0: cannot open the file");
}

RunPoint run(double n, double d, double loss, const std::string& id = "r") {
  RunPoint r;
  r.id = id;
  r.arch = "softmax";
  r.n = r.n_total = n;
  r.d = d;
  r.c = 6 * n * d;
  r.loss = loss;
  return r;
}

std::string input_error(const std::vector<RunPoint>& runs) {
  try {
    check_fit_input(runs);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(FitInput, DegenerateInputGivesClearErrors) {
  EXPECT_NE(input_error({}).find("no finished runs"), std::string::npos);
  EXPECT_NE(input_error({run(1e8, 2e9, 3)}).find("only one finished run"), std::string::npos);
  EXPECT_NE(input_error({run(1e8, 2e9, 3, "a"), run(2e8, 1e9, 2.9, "b")}).find("same compute"),
            std::string::npos);
  EXPECT_EQ(input_error({run(1e8, 2e9, NAN, "a"), run(2e8, 2e9, 2.9, "b")}),
            "run a: final_loss is nan; fits need finite positive values");
  EXPECT_EQ(input_error({run(-1e8, 2e9, 3, "a"), run(2e8, 2e9, 2.9, "b")}),
            "run a: params is -100000000; fits need finite positive values");
  EXPECT_EQ(input_error({run(1e8, 2e9, 3, "a"), run(2e8, 2e9, 2.9, "b")}), "");
  EXPECT_THROW(run_fits({run(1e8, 2e9, 3)}, FitOptions{}), DataError);
}

TEST(LoadRuns, ReadsDoneRunsWithCurvesFromTheDatabase) {
  db::Database db(":memory:");
  testing::SweepSpec s;
  s.sizes = {1e6, 1e7};
  s.tokens_per_n = {20};
  s.curve_points = 5;
  testing::insert_sweep(db, testing::make_sweep(s));
  db::Run pending;
  pending.id = "pending1";
  pending.sweep = "synthetic";
  pending.arch = "softmax";
  pending.params = 5;
  db.insert_runs({pending});

  DataOptions o;
  std::vector<RunPoint> runs = load_runs(db, o);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].curve.size(), 5u);
  EXPECT_DOUBLE_EQ(runs[0].curve.back().c, runs[0].c);
  EXPECT_DOUBLE_EQ(runs[0].curve.front().c, runs[0].c / 5);
  o.compute = Compute::SixND;
  o.with_curves = false;
  runs = load_runs(db, o);
  EXPECT_DOUBLE_EQ(runs[1].c, 6 * runs[1].n * runs[1].d);
  EXPECT_TRUE(runs[1].curve.empty());
}

TEST(LoadRuns, NanFinalLossNamesTheRun) {
  db::Database db(":memory:");
  testing::SweepSpec s;
  s.sizes = {1e6, 1e7, 1e8};
  s.tokens_per_n = {20};
  auto runs = testing::make_sweep(s);
  runs[1].loss = NAN;
  testing::insert_sweep(db, runs);
  try {
    load_runs(db, {});
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(runs[1].id), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("final_loss is nan"), std::string::npos) << e.what();
  }
}

// The demo sweep (6 runs, 3 sizes): Kaplan L(C) fits, approaches 2 and 3 are
// skipped with a reason, not forced.
TEST(RunFits, DemoSizedSweepGetsLossVsComputeAndSkipsTheRest) {
  testing::SweepSpec s;
  s.sizes = {2e5, 8e5, 3e6};
  s.tokens_per_n = {10, 40};
  s.noise = 0.003;
  s.curve_points = 8;
  FitOptions opt;
  opt.bootstrap = 50;
  const FitSuite suite = run_fits(testing::make_sweep(s), opt);
  bool c = false;
  for (const FitResult& f : suite.fits) {
    if (f.method == "kaplan_c") {
      c = true;
      EXPECT_GT(f.param("alpha"), 0);
      EXPECT_TRUE(std::isfinite(f.param("alpha")));
    }
    EXPECT_NE(f.method, "chinchilla2");
    EXPECT_NE(f.method, "chinchilla3");
  }
  EXPECT_TRUE(c);
  std::string notes;
  for (const std::string& n : suite.notes) notes += n + "\n";
  EXPECT_NE(notes.find("chinchilla2 [softmax]: skipped: approach 2"), std::string::npos) << notes;
  EXPECT_NE(notes.find("chinchilla3 [softmax]: skipped: approach 3 fits 5 parameters; 6 point(s)"),
            std::string::npos)
      << notes;
}

}  // namespace
}  // namespace scalelab::analysis
