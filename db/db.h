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
#include <stdexcept>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace SQLite { class Database; class Statement; }

namespace scalelab::db {

inline constexpr int kSchemaVersion = 5;

// diverged: the loss went non-finite (or spiked); kept apart from failed (a
// crash, a bad spec) because it says something about the hyperparameters, and
// left out of fits with the reason.
enum class RunStatus { Pending, Running, Done, Failed, Cancelled, Diverged };
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
  int64_t lease = 0;       // fencing token of the current (or last) claim
  int retries = 0;         // automatic retries spent (OOM kills, lost nodes)
  std::string not_before;  // backoff: not claimed before this time ("" = now)
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

// One measured point of an eval (evals/run_evals.h), stored beside its run.
// eval: "mqar" (value: accuracy; variant "pairs=P"), "sniah" (value:
// exact-match recall; variant "passkey/repeat" etc., context: prompt tokens,
// depth: needle depth in [0, 1]), "position_loss" (value: mean held-out loss
// of the tokens at positions (previous bucket, position], 1-based). n: the
// samples (prompts, answers or tokens) behind the value; detail: JSON
// (training length, decoding, ...). A value may be NaN (stored as text).
struct EvalRow {
  std::string run_id, eval, variant;
  int64_t context = 0;
  double depth = 0;
  int64_t position = 0;
  double value = 0;
  int64_t n = 0;
  std::string detail = "{}";
  std::string created_at;
};

struct StatusCount { std::string sweep; RunStatus status; int64_t n; };

struct RunFilter {
  std::optional<std::string> sweep;
  std::optional<std::string> stage;
  std::optional<RunStatus> status;
  std::optional<std::string> arch;
};

// A claim on a run. Every write its holder makes (heartbeat, metrics, the
// result) carries the token and is refused once the run was claimed again, so
// a worker that lost its lease (node partitioned, heartbeat too late) can never
// finish, fail or log into a run someone else now trains (db/lease.cpp).
struct Lease {
  std::string run_id;
  int64_t token = 0;
};

// Thrown by a fenced write whose lease is no longer the run's current one. The
// holder must stop without writing anything else.
struct LeaseLost : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The process that holds a lease, so that a scheduler on the same host can see
// at once that it died (pid and start time: a reused pid is not mistaken for it).
struct ProcessId {
  std::string host, boot_id;
  int64_t pid = 0, start = 0;  // start: clock ticks after boot (/proc/PID/stat field 22)
};
ProcessId this_process();
ProcessId process_id(int64_t pid);  // another process of this host
bool process_alive(int64_t pid, int64_t start);  // on this host

struct Holder {
  std::string worker;        // shown in status: "host:pid:slot", "slurm:123_4"
  ProcessId process;         // the claimer (a scheduler, or the trainer itself)
  double heartbeat_s = 10;   // its heartbeat interval: never judged stale before 3 of them
};

struct ClaimOptions {
  double stale_after_s = 600;  // a running run with an older heartbeat is reclaimed
  int max_retries = 3;         // a run lost more often than this fails instead
  RunFilter filter;            // sweep / stage / arch (status ignored)
  double max_memory = 0;       // only runs whose memory estimate fits (0: any)
};

// One row of the lease log: who held which run when, and how it ended.
struct LeaseRecord {
  std::string run_id;
  int64_t token = 0;
  std::string worker, host;
  int64_t claimer_pid = 0, pid = 0;  // pid: the trainer once it attached (0 before)
  std::string claimed_at, last_write_at, ended_at;  // UTC, millisecond precision
  std::string outcome;  // "" while held; done failed diverged released retry reclaimed expired cancelled requeued
  std::string reason;
};

// A stage of a sweep: runs of a stage are claimed only when it is open. The
// first stage opens when planned; a later one when the stage before it has no
// pending or running runs left and its gate (a condition on the earlier
// stage's results, written in the sheet) passes. The verdict is kept.
struct Stage {
  std::string sweep, stage;
  int position = 0;
  std::string gate;     // "" = none
  std::string state = "waiting";  // waiting | open | blocked
  std::string verdict;  // "" | passed | failed | no gate
  std::string detail;   // the gate's numbers
  std::string decided_at;
};

struct StageCount { std::string sweep, stage, arch; RunStatus status; int64_t n; double flops; };

enum class OpenMode { ReadWrite, ReadOnly };

class Database {
 public:
  // Opens or creates PATH (":memory:" for an in-memory one) and migrates it to
  // kSchemaVersion. Throws std::runtime_error naming PATH when it cannot, or when
  // the file's schema is newer than this build knows.
  // ReadOnly never creates, migrates or writes (a database on a read-only
  // mount or archived with chmod a-w opens too); it throws when PATH is missing
  // or its schema is older than this build's.
  explicit Database(const std::string& path, OpenMode mode = OpenMode::ReadWrite);
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

  // Atomically moves the best claimable run (priority desc, then FLOPs asc) to
  // running under a new lease held by H: a pending run past its backoff in an
  // open stage, or a running one whose heartbeat is older than stale_after_s
  // (and 3 of its holder's heartbeat intervals): its node was lost. nullopt
  // when nothing is claimable. The returned run's `lease` is the token.
  std::optional<Run> claim_next_run(const Holder& h, const ClaimOptions& o);
  std::optional<Run> claim_next_run(const std::string& worker, double stale_after_s = 600,
                                    const RunFilter& f = {});
  // Claims one named run (pending, failed, diverged, or stale running) for this
  // process; nullopt if it is held or finished.
  std::optional<Lease> claim_run(const std::string& id, const std::string& worker,
                                 double stale_after_s = 600);
  // Running runs held on this host (same boot) by processes that are gone go
  // back to pending (lease outcome `reclaimed`), counted as a retry. Returns them.
  std::vector<std::string> reclaim_dead_holders(int max_retries = 3);

  // Fenced writes: each throws LeaseLost unless L is the run's current lease.
  void attach(const Lease& l, const ProcessId& trainer);  // the trainer took over
  void set_worker(const Lease& l, const std::string& worker);  // e.g. the Slurm job id, once known
  void heartbeat(const Lease& l);
  // Replaces the run's perf JSON (the trainer writes it as it learns more).
  void set_run_perf(const Lease& l, const std::string& perf_json);
  void log_metrics(const Lease& l, const std::vector<Metric>& rows);  // also a heartbeat
  void finish_run(const Lease& l, std::optional<double> final_loss, const std::string& env_json);
  // running -> failed, or diverged (non-finite loss).
  void fail_run(const Lease& l, const std::string& error, bool diverged = false);
  // running -> pending for a run that stopped cleanly (checkpointed) and can resume.
  void release_run(const Lease& l, const std::string& reason = "interrupted");
  // A failure that is not the run's fault (killed by the OOM killer, node lost):
  // back to pending, claimable after backoff_s * 2^retries, unless the run has
  // used max_retries; then failed. True when requeued.
  bool retry_later(const Lease& l, const std::string& reason, double backoff_s, int max_retries);

  // User commands (scalelab cancel / requeue / retry); each returns the runs changed.
  // pending/failed/diverged -> cancelled; with running, running ones too (their
  // holders are fenced off and stop at their next heartbeat). Done runs never.
  int cancel_runs(const std::vector<std::string>& ids, bool running = false);
  // running -> pending at once (a node known to be gone); the holder is fenced off.
  int requeue_runs(const std::vector<std::string>& ids);
  // Returns running runs of WORKER (or of any worker when empty) to pending.
  int requeue_running(const std::string& worker = "");
  // failed/cancelled/diverged -> pending, with the retry budget reset.
  int retry_runs(const std::vector<std::string>& ids);
  std::vector<LeaseRecord> leases(const std::string& run_id = "");
  // Seconds until the first pending run of F leaves its backoff; nullopt if none waits.
  std::optional<double> next_backoff_s(const RunFilter& f = {});

  // --- stages ----------------------------------------------------------------
  // Adds the stages of SWEEP (in order) that are new; a changed gate of a stage
  // that has not opened yet replaces the old one and its verdict.
  void upsert_stages(const std::string& sweep, const std::vector<Stage>& stages);
  std::vector<Stage> stages(const std::string& sweep = "");
  void decide_stage(const Stage& s);  // state, verdict, detail of (sweep, stage)
  std::vector<StageCount> stage_counts();

  // --- machine speed (for estimates before a sweep starts) --------------------
  void record_speed(const std::string& host, const std::string& device, double flops_per_s,
                    const std::string& source);
  std::optional<double> speed(const std::string& host, const std::string& device);

  // "ok", or what SQLite's PRAGMA quick_check found (first lines).
  std::string quick_check();

  // --- metrics ---------------------------------------------------------------
  // Upserts on (run_id, step) in one transaction: a resumed run rewrites steps it
  // logged before its last checkpoint instead of failing. Unfenced: for imports
  // and tests; trainers use the fenced overload above.
  void log_metrics(const std::vector<Metric>& rows);
  std::vector<Metric> metrics(const std::string& run_id);
  // Last logged row of every run (for status / tables), keyed by run id order.
  std::vector<Metric> last_metrics();

  // --- evals -----------------------------------------------------------------
  // Replaces every row of (run, eval) by ROWS (all of that run and eval) in
  // one transaction: re-running an eval never mixes old and new points.
  void replace_evals(const std::string& run_id, const std::string& eval,
                     const std::vector<EvalRow>& rows);
  // Rows of RUN_ID ("" = every run), by run, eval, variant, context, depth, position.
  std::vector<EvalRow> evals(const std::string& run_id = "");

  // --- fits ------------------------------------------------------------------
  int64_t save_fit(const Fit& f);
  // Deletes the fits of f.method and f.arch, then saves f, in one transaction:
  // re-fitting replaces instead of piling up stale results.
  int64_t replace_fit(const Fit& f);
  std::vector<Fit> fits(const std::string& method = "");
  void clear_fits();

 private:
  void migrate();
  void open_read_only(const std::string& path);
  void check_read_only_schema();
  std::optional<Run> take(const std::string& id, const Holder& h, const ClaimOptions& o);
  void end_lease(const Lease& l, const std::string& outcome, const std::string& reason);
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
