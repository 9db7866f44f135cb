// scalelab's database: the only code that writes SQL.
//
// Layout (optuna's RDB storage is the model): sweeps -> runs -> metrics, plus
// fits and a one-row schema_version. One SQLite file in WAL mode, shared by the
// scheduler and the train processes of one machine; never opened over a network
// filesystem. A Database object is used by one thread at a time.
//
// Reals that may be NaN or +-inf (losses, lr, throughput) are stored explicitly:
// a finite value as REAL, a non-finite one as the TEXT 'nan' / 'inf' / '-inf'
// (SQLite would otherwise turn NaN into NULL), and "not measured" as NULL. Query
// with typeof(col) = 'text' to find non-finite values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace SQLite { class Database; class Statement; }

namespace scalelab::db {

inline constexpr int kSchemaVersion = 3;

enum class RunStatus { Pending, Running, Done, Failed, Cancelled };
std::string_view to_string(RunStatus s);
RunStatus run_status_from_string(std::string_view s);  // throws std::invalid_argument

struct Run {
  std::string id;         // content hash of the canonical spec (sweep/identity.h)
  std::string sweep;      // sweep name, e.g. the sheet's file stem
  std::string stage;      // sheet `stage` column ("" when none)
  std::string name;       // sheet row name
  std::string arch;       // model descriptor, e.g. "hybrid(lightning,softmax@7:1)"
  std::string spec_json;  // canonical run spec: model, data, tokens, optimiser, seed
  int64_t params = 0;
  int64_t nonembedding_params = 0;
  int64_t tokens = 0;     // training tokens
  double flops = 0;       // training FLOPs (forward + backward)
  int priority = 0;       // higher runs first
  RunStatus status = RunStatus::Pending;
  int attempts = 0;       // times claimed
  std::string worker;     // who holds / held it
  std::string error;      // reason of the last failure
  std::optional<double> final_loss;  // validation loss at the end
  std::string env_json;   // code version, hardware, library versions, seeds
  std::string created_at, started_at, finished_at, heartbeat_at;  // UTC ISO-8601
  int64_t micro_batch = 0;  // sequences per forward the planner chose; 0: the whole batch
  std::optional<double> memory_estimate;  // planner's training bytes per GPU at micro_batch
  std::string perf_json = "{}";  // the trainer's measurements (see train/trainer.h)
};

struct Metric {
  std::string run_id;
  int64_t step = 0;
  int64_t tokens = 0;  // tokens seen up to and including this step
  std::optional<double> train_loss, val_loss, lr, tokens_per_s, elapsed_s;
  std::optional<double> grad_norm;  // mean pre-clip gradient norm since the last row
};

struct Fit {
  int64_t id = 0;
  std::string method;       // "kaplan_c", "chinchilla3", ...
  std::string arch;         // "" when the fit pools architectures
  int n_points = 0;
  std::string result_json;  // parameters, intervals, diagnostics
  std::string created_at;
};

struct StatusCount { std::string sweep; RunStatus status; int64_t n; };

struct RunFilter {
  std::optional<std::string> sweep;
  std::optional<std::string> stage;
  std::optional<RunStatus> status;
  std::optional<std::string> arch;
};

class Database {
 public:
  // Opens or creates PATH (":memory:" for an in-memory one) and migrates it to
  // kSchemaVersion. Throws std::runtime_error naming PATH when it cannot, or when
  // the file's schema is newer than this build knows.
  explicit Database(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const { return path_; }
  int schema_version();
  SQLite::Database& raw();  // for db/ and its tests only

  // --- sweeps and runs -------------------------------------------------------
  // Inserts in one transaction; existing ids are left untouched (re-planning is a
  // no-op). Returns the ids that were new.
  std::vector<std::string> insert_runs(const std::vector<Run>& runs);
  std::optional<Run> get_run(const std::string& id);
  std::vector<Run> list_runs(const RunFilter& f = {});
  // Ids of the runs of SWEEP, any status (re-planning compares them with the
  // sheet without reading every run's spec).
  std::vector<std::string> run_ids(const std::string& sweep);
  std::vector<StatusCount> status_counts();

  // Atomically moves the best pending run (priority desc, then FLOPs asc) -- or a
  // running one whose heartbeat is older than stale_after_s (its worker died) --
  // to running, owned by WORKER. nullopt when nothing is claimable.
  // F narrows the choice (sweep, stage, arch; its status is ignored).
  std::optional<Run> claim_next_run(const std::string& worker, double stale_after_s = 600,
                                    const RunFilter& f = {});
  // Claims one named run (pending, failed, or stale running); false if taken.
  bool claim_run(const std::string& id, const std::string& worker, double stale_after_s = 600);
  void heartbeat(const std::string& id);
  void finish_run(const std::string& id, std::optional<double> final_loss, const std::string& env_json);
  // Replaces the run's perf JSON (the trainer writes it as it learns more).
  void set_run_perf(const std::string& id, const std::string& perf_json);
  void fail_run(const std::string& id, const std::string& error);
  // running -> pending for one run that stopped cleanly (checkpointed) and can resume.
  void release_run(const std::string& id);
  // Returns running runs of WORKER (or of any worker when empty) to pending.
  int requeue_running(const std::string& worker = "");
  // pending/failed -> cancelled; done and running runs are never touched.
  int cancel_runs(const std::vector<std::string>& ids);
  // failed/cancelled -> pending.
  int retry_runs(const std::vector<std::string>& ids);

  // --- metrics ---------------------------------------------------------------
  // Upserts on (run_id, step) in one transaction: a resumed run rewrites steps it
  // logged before its last checkpoint instead of failing.
  void log_metrics(const std::vector<Metric>& rows);
  std::vector<Metric> metrics(const std::string& run_id);
  // Last logged row of every run (for status / tables), keyed by run id order.
  std::vector<Metric> last_metrics();

  // --- fits ------------------------------------------------------------------
  int64_t save_fit(const Fit& f);
  // Deletes the fits of f.method and f.arch, then saves f, in one transaction:
  // re-fitting replaces instead of piling up stale results.
  int64_t replace_fit(const Fit& f);
  std::vector<Fit> fits(const std::string& method = "");
  void clear_fits();

 private:
  void migrate();
  std::string path_;
  std::unique_ptr<SQLite::Database> db_;
};

// RAII transaction: commits on commit(), rolls back when destroyed before.
// IMMEDIATE takes the write lock up front, so two writers never deadlock on an
// upgrade from a read lock.
class Transaction {
 public:
  explicit Transaction(Database& db, bool immediate = true);
  ~Transaction();
  void commit();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  SQLite::Database& db_;
  bool done_ = false;
};

// Explicit-NaN helpers (see the file comment); exposed for tests.
void bind_real(SQLite::Statement& st, int index, std::optional<double> v);
std::optional<double> column_real(SQLite::Statement& st, int index);

std::string utc_now();  // "2026-11-23T19:30:00Z"

}  // namespace scalelab::db
