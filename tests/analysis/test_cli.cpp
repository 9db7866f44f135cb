// `scalelab fit` and `scalelab report` as a user runs them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "db/db.h"
#include "tests/analysis/synthetic.h"
#include "tests/common/run_cli.h"

namespace scalelab::analysis {
namespace {

namespace fs = std::filesystem;

using Ran = scalelab::testing::CliResult;
Ran run(const std::string& args) { return scalelab::testing::run_cli(fs::current_path(), args); }

fs::path temp_dir(const char* name) {
  const fs::path d = fs::temp_directory_path() / (std::string(name) + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(CliFit, BadPointsFileExitsTwoNamingRowAndColumn) {
  const fs::path d = temp_dir("scalelab_cli_points_bad");
  const std::string f = (d / "p.csv").string();
  std::ofstream(f) << "params,tokens,loss\n1e8,2e9,3\n1e9,2e10,-1\n";
  const Ran r = run("fit --points " + f + " --method chinchilla3");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find(f + ":3:3: loss must be finite and positive"), std::string::npos) << r.out;
}

TEST(CliFit, MissingPointsFileExitsTwo) {
  const Ran r = run("fit --points /nonexistent/points.csv");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("/nonexistent/points.csv:0:0: cannot open the file"), std::string::npos)
      << r.out;
}

TEST(CliFit, PointsFileApproach3AsJson) {
  const fs::path d = temp_dir("scalelab_cli_points_ok");
  testing::SweepSpec s;
  s.sizes = testing::logspace(1e7, 1e10, 8);
  s.tokens_per_n = testing::logspace(2, 200, 5);
  s.noise = 0.003;
  const std::string f = (d / "p.csv").string();
  {
    std::ofstream out(f);
    out << "params,tokens,loss\n";
    for (const RunPoint& p : testing::make_sweep(s)) out << p.n << "," << p.d << "," << p.loss << "\n";
  }
  const Ran r = run("fit --points " + f + " --method chinchilla3 --format json --bootstrap 20");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["fits"].size(), 1u);
  const auto& fit = j["fits"][0];
  EXPECT_EQ(fit["method"], "chinchilla3");
  for (const auto& p : fit["params"]) {
    EXPECT_TRUE(p.contains("interval")) << p;
    if (p["name"] == "E") {
      EXPECT_NEAR(p["value"].get<double>(), 1.69, 0.05);
    }
  }
}

TEST(CliFit, FitThenReportFromADatabase) {
  const fs::path d = temp_dir("scalelab_cli_db");
  const std::string dbpath = (d / "s.db").string();
  {
    db::Database db(dbpath);
    testing::SweepSpec s;
    s.sizes = {2e5, 8e5, 3e6};
    s.tokens_per_n = {10, 40};
    s.curve_points = 5;
    s.noise = 0.002;
    testing::insert_sweep(db, testing::make_sweep(s));
  }
  Ran r = run("--db " + dbpath + " fit --bootstrap 20");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("kaplan_c [softmax]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("note: chinchilla2 [softmax]: skipped"), std::string::npos) << r.out;
  const size_t stored = db::Database(dbpath).fits().size();
  r = run("--db " + dbpath + " fit --bootstrap 20");  // replaces, does not add
  EXPECT_EQ(db::Database(dbpath).fits().size(), stored);
  r = run("--db " + dbpath + " report --out " + (d / "rep").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(fs::exists(d / "rep" / "index.html"));
  EXPECT_TRUE(fs::exists(d / "rep" / "loss_vs_compute.svg"));
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Issue 14: `report` used fits older than the newest finished runs, silently.
TEST(CliFit, ReportRefitsWhenTheStoredFitsAreOutOfDate) {
  const fs::path d = temp_dir("scalelab_cli_stale");
  const std::string dbpath = (d / "s.db").string();
  testing::SweepSpec s;
  s.sizes = testing::logspace(2e5, 3e6, 4);
  s.tokens_per_n = {10, 40};
  s.noise = 0.002;
  std::vector<RunPoint> runs = testing::make_sweep(s);
  const RunPoint late = runs.back();
  runs.pop_back();
  {
    db::Database db(dbpath);
    testing::insert_sweep(db, runs);
  }
  ASSERT_EQ(run("--db " + dbpath + " fit --bootstrap 10 --method kaplan").rc, 0);
  Ran r = run("--db " + dbpath + " report --out " + (d / "fresh").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("stored by `scalelab fit` at"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("warning"), std::string::npos) << r.out;
  {
    db::Database db(dbpath);
    testing::insert_sweep(db, {late});  // a run finished after the fit
  }
  r = run("--db " + dbpath + " report --bootstrap 10 --out " + (d / "refit").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("report: warning: The stored fits were not used: the fits stored at"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("from 7 finished run(s); there are 8 now"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fitted for this report"), std::string::npos) << r.out;
  EXPECT_NE(slurp(d / "refit" / "index.html").find("class=warning"), std::string::npos);
  r = run("--db " + dbpath + " report --stored --out " + (d / "stored").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(slurp(d / "stored" / "index.html").find("These fits are out of date"), std::string::npos);
}

TEST(CliFit, EmptyDatabaseIsAnInputError) {
  const fs::path d = temp_dir("scalelab_cli_empty");
  { db::Database created((d / "e.db").string()); }  // fit never creates one (issue 15)
  const Ran r = run("--db " + (d / "e.db").string() + " fit");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("no finished runs"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace scalelab::analysis
