// `scalelab plan` end to end through the real binary: exit codes, what is
// printed, and that a bad sheet or a dry run leaves the database untouched.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "db/db.h"
#include "tests/common/run_cli.h"

namespace fs = std::filesystem;

namespace {
using Result = scalelab::testing::CliResult;
using scalelab::testing::run_cli;

class PlanCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sweep_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    write("good.csv",
          "# two archs x two seeds\nname,stage,arch,d_model,tokens,seed\nrow,s1,softmax|lightning,64,1M,0|1\n");
    write("bad.csv", "name,arch,layers,d_model,tokens\na,softmax,twelve,64,1M\nb,softmax,2,64,1M\n");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  size_t runs_in(const std::string& db) { return scalelab::db::Database((dir_ / db).string()).list_runs().size(); }
  fs::path dir_;
};
}  // namespace

TEST_F(PlanCli, BadSheetExitsTwoAndWritesNothing) {
  const Result r = run_cli(dir_, "--db x.db plan bad.csv");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("bad.csv:2:layers: bad number 'twelve'"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "x.db"));
  // With a database already there (and --db after the subcommand): untouched.
  ASSERT_EQ(run_cli(dir_, "plan good.csv --db x.db").rc, 0);
  EXPECT_EQ(runs_in("x.db"), 4u);
  EXPECT_EQ(run_cli(dir_, "plan bad.csv --db x.db").rc, 2);
  EXPECT_EQ(runs_in("x.db"), 4u);
}

TEST_F(PlanCli, DryRunTouchesNoDatabase) {
  const Result r = run_cli(dir_, "--db x.db plan good.csv --dry-run");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "x.db"));
  EXPECT_NE(r.out.find("Budget of sweep 'good': 4 runs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dry run: the database was not touched"), std::string::npos);
}

TEST_F(PlanCli, ReplanAddsNothingAndRemovedRowsAreReported) {
  EXPECT_NE(run_cli(dir_, "plan good.csv --db x.db").out.find("4 new, 0 already there"),
            std::string::npos);
  EXPECT_NE(run_cli(dir_, "plan good.csv --db x.db").out.find("0 new, 4 already there"),
            std::string::npos);
  write("good.csv", "name,stage,arch,d_model,tokens,seed\nrow,s1,softmax,64,1M,0|1\n");
  Result r = run_cli(dir_, "plan good.csv --db x.db");
  EXPECT_NE(r.out.find("2 runs of sweep 'good' are no longer in the sheet:\n  row: 2 pending\n"
                       "they stay in the database; --prune cancels the 2 pending ones"),
            std::string::npos)
      << r.out;
  r = run_cli(dir_, "plan good.csv --db x.db --prune");
  EXPECT_NE(r.out.find("cancelled 2 pending runs (--prune)"), std::string::npos) << r.out;
  EXPECT_EQ(runs_in("x.db"), 4u);
}

TEST_F(PlanCli, OutRoundTripAndJson) {
  ASSERT_EQ(run_cli(dir_, "plan good.csv --db x.db --out expanded.csv").rc, 0);
  const Result r = run_cli(dir_, "plan expanded.csv --db x.db --sweep good");
  EXPECT_NE(r.out.find("0 new, 4 already there"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("no longer in the sheet"), std::string::npos) << r.out;
  const Result j = run_cli(dir_, "plan good.csv --dry-run --format json 2>/dev/null");
  const auto doc = nlohmann::json::parse(j.out.substr(0, j.out.rfind('}') + 1));
  EXPECT_EQ(doc["runs"].size(), 4u);
  EXPECT_EQ(doc["total"]["runs"], 4);
}
