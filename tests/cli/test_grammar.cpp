// One CLI grammar: global options before or after the subcommand, typos
// answered with a suggestion, documented exit codes, read-only commands that
// never create a database, and the checks `run` makes before claiming.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "db/db.h"
#include "sweep/scheduler.h"
#include "tests/common/cli.h"
#include "tests/common/temp_dir.h"

namespace fs = std::filesystem;
using scalelab::testing::contains;
using scalelab::testing::run_cli;

namespace {

constexpr const char* kSheet =
    "name,stage,arch,layers,d_model,heads,seq_len,tokens,batch_tokens,eval_every,eval_tokens,seed\n"
    "tiny,s1,softmax|lightning,1,16,1,16,256,64,2,64,0\n";

struct Cli : ::testing::Test {
  scalelab::testing::TempDir tmp{"cli"};
  fs::path dir = tmp.path();
  void write(const std::string& name, const std::string& text) { std::ofstream(dir / name) << text; }
  // `scalelab ARGS` is bad input: exit code 2 and MESSAGE in its output.
  void bad_input(const std::string& args, const std::string& message) {
    const auto r = run_cli(dir, args);
    EXPECT_EQ(r.rc, 2) << args << "\n" << r.out;
    EXPECT_TRUE(contains(r.out, message)) << args << "\n" << r.out;
  }
  void SetUp() override {
    write("s.csv", kSheet);
    ASSERT_EQ(run_cli(dir, "plan s.csv --db s.db").rc, 0);
  }
};

}  // namespace

TEST_F(Cli, GlobalOptionsGoBeforeOrAfterTheSubcommand) {
  for (const char* args : {"--db s.db status", "status --db s.db", "status -q --db s.db",
                           "-q status --db=s.db", "status --db s.db -v"}) {
    const auto r = run_cli(dir, args);
    EXPECT_EQ(r.rc, 0) << args << "\n" << r.out;
    EXPECT_TRUE(contains(r.out, "sweep s: 2 runs: 2 pending")) << args << "\n" << r.out;
  }
  // run, fit and report take --db after the subcommand too (the README says all do).
  EXPECT_TRUE(contains(run_cli(dir, "fit --db s.db").out, "no finished runs")) ;
  EXPECT_FALSE(contains(run_cli(dir, "report --db s.db --out r").out, "not expected"));
  EXPECT_FALSE(contains(run_cli(dir, "run --db s.db --max-runs 0 --sweep nope").out, "not expected"));
}

TEST_F(Cli, TyposAreErrorsWithASuggestion) {
  bad_input("stauts --db s.db", "unknown command 'stauts'; did you mean 'status'?");
  bad_input("run --db s.db --stale-afte 900",
            "unknown option '--stale-afte' for scalelab run; did you mean '--stale-after'?");
  bad_input("run --db s.db --arch softmaxx", "--arch: no runs with 'softmaxx'; did you mean 'softmax'?");
  bad_input("run --db s.db --sweep nope", "--sweep: no runs with 'nope' (the database has: s)");
  bad_input("status --db s.db --sweep ss", "did you mean 's'?");
  // CLI11's own codes (105, 109, ...) never leak out; no stack trace either.
  const auto r = run_cli(dir, "fit --db s.db --method nope");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_EQ(run_cli(dir, "plan").rc, 2);
  EXPECT_EQ(run_cli(dir, "").rc, 2);
  EXPECT_EQ(run_cli(dir, "--help").rc, 0);
  EXPECT_EQ(run_cli(dir, "run --help").rc, 0);
}

TEST_F(Cli, VersionAndExitCodesInHelp) {
  auto r = run_cli(dir, "--version");
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out.rfind("scalelab 0.", 0), 0u) << r.out;
  EXPECT_TRUE(contains(run_cli(dir, "--help").out, "2 bad input"));
}

TEST_F(Cli, ReadOnlyCommandsNeverCreateADatabase) {
  for (const char* args : {"status --db typo.db", "fit --db typo.db", "report --db typo.db",
                           "run --db typo.db", "retry --db typo.db --failed"}) {
    const auto r = run_cli(dir, args);
    EXPECT_EQ(r.rc, 2) << args << "\n" << r.out;
    EXPECT_TRUE(contains(r.out, "no database at typo.db")) << r.out;
    EXPECT_FALSE(fs::exists(dir / "typo.db")) << args;
  }
  EXPECT_TRUE(contains(run_cli(dir, "status --db sdb.db").out, "did you mean 's.db'?"));
  // status reads without writing: the file is unchanged byte for byte.
  run_cli(dir, "status --db s.db");  // a first open may checkpoint the WAL
  const auto before = fs::last_write_time(dir / "s.db");
  const auto size = fs::file_size(dir / "s.db");
  EXPECT_EQ(run_cli(dir, "status --db s.db --runs").rc, 0);
  EXPECT_EQ(fs::last_write_time(dir / "s.db"), before);
  EXPECT_EQ(fs::file_size(dir / "s.db"), size);
}

TEST_F(Cli, SemicolonAndTabSheetsAndOutOntoTheInput) {
  std::string semi = kSheet, tab = kSheet;
  for (char& c : semi) c = c == ',' ? ';' : c;
  for (char& c : tab) c = c == ',' ? '\t' : c;
  write("semi.csv", semi);
  write("tab.csv", tab);
  for (const char* f : {"semi.csv", "tab.csv"}) {
    const auto r = run_cli(dir, std::string("plan --dry-run ") + f);
    EXPECT_EQ(r.rc, 0) << r.out;
    EXPECT_TRUE(contains(r.out, "2 runs")) << f << "\n" << r.out;
  }
  bad_input("plan s.csv --db s.db --out ./s.csv", "is the input sheet itself");
  std::ifstream in(dir / "s.csv");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), {}), kSheet);
}

TEST_F(Cli, RunChecksBeforeClaimingAnything) {
  bad_input("run --db s.db --stale-after 3 --heartbeat-every 10", "must exceed 3 heartbeat intervals");
  bad_input("run --db s.db --gpus 0,7", "--gpus: there is no GPU");
  bad_input("run --db s.db --runs-per-gpu 2", "--runs-per-gpu needs --gpus");
  scalelab::db::Database db((dir / "s.db").string());
  for (const auto& run : db.list_runs()) EXPECT_EQ(run.status, scalelab::db::RunStatus::Pending);
}

TEST_F(Cli, ALongCpuSweepNeedsYes) {
  write("big.csv", "name,arch,layers,d_model,heads,seq_len,tokens\nbig,softmax,8,640,10,2048,1B\n");
  ASSERT_EQ(run_cli(dir, "plan big.csv --db b.db").rc, 0);
  {  // as `scalelab calibrate` or a finished run would have stored it
    scalelab::db::Database db((dir / "b.db").string());
    db.record_speed(scalelab::sweep::hostname(), "cpu", 5e9, "test");
  }
  const auto r = run_cli(dir, "run --db b.db --device cpu");
  EXPECT_EQ(r.rc, 2);
  EXPECT_TRUE(contains(r.out, "1 runs (3.02e+17 FLOPs) would take about 698.7 days on this CPU (1 at a time, 5 GFLOP/s"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "pass --yes")) << r.out;
  scalelab::db::Database db((dir / "b.db").string());
  EXPECT_EQ(db.list_runs()[0].status, scalelab::db::RunStatus::Pending);
  EXPECT_EQ(db.list_runs()[0].attempts, 0);
}

TEST_F(Cli, RunRefusesACorruptDatabase) {
  {
    scalelab::db::Database db((dir / "s.db").string());
    std::vector<scalelab::db::Run> runs;
    for (int i = 0; i < 400; ++i) {
      scalelab::db::Run r = db.list_runs()[0];
      r.id = "x" + std::to_string(i);
      runs.push_back(r);
    }
    db.insert_runs(runs);
    db.raw().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  {
    std::fstream f(dir / "s.db", std::ios::in | std::ios::out | std::ios::binary);
    for (long off : {8192L, 12288L, 28672L}) {
      f.seekp(off);
      f.write("\x07garbage garbage garbage", 24);
    }
  }
  const auto r = run_cli(dir, "run --db s.db");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_TRUE(contains(r.out, "PRAGMA quick_check") || contains(r.out, "malformed")) << r.out;
  EXPECT_FALSE(contains(r.out, "run: starting")) << r.out;
}

TEST_F(Cli, QueueCommandsNeedASelectionAndNameWhatTheyLeaveAlone) {
  bad_input("retry --db s.db", "name runs by id, or select them");
  auto r = run_cli(dir, "cancel --db s.db --sweep s");
  EXPECT_EQ(r.rc, 0);
  EXPECT_TRUE(contains(r.out, "cancel: 2 runs cancelled (2 pending)")) << r.out;
  r = run_cli(dir, "retry --db s.db --sweep s --cancelled");
  EXPECT_TRUE(contains(r.out, "retry: 2 runs back to pending (2 cancelled)")) << r.out;
  bad_input("retry --db s.db nonexistent", "no run 'nonexistent'");
  scalelab::db::Database db((dir / "s.db").string());
  const std::string id = db.list_runs()[0].id;
  r = run_cli(dir, "retry --db s.db " + id.substr(0, 8));
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(contains(r.out, "run " + id + " is pending; left alone")) << r.out;
}
