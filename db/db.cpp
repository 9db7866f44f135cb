#include "db/db.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <stdexcept>

#include "db/internal.h"
#include "db/lineage.h"
#include "db/schema.h"

namespace scalelab::db {

std::string_view to_string(RunStatus s) {
  switch (s) {
    case RunStatus::Pending: return "pending";
    case RunStatus::Running: return "running";
    case RunStatus::Done: return "done";
    case RunStatus::Failed: return "failed";
    case RunStatus::Cancelled: return "cancelled";
    case RunStatus::Diverged: return "diverged";
  }
  return "?";
}

RunStatus run_status_from_string(std::string_view s) {
  for (auto st : {RunStatus::Pending, RunStatus::Running, RunStatus::Done, RunStatus::Failed,
                  RunStatus::Cancelled, RunStatus::Diverged})
    if (to_string(st) == s) return st;
  throw std::invalid_argument("unknown run status '" + std::string(s) + "'");
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void bind_real(SQLite::Statement& st, int index, std::optional<double> v) {
  if (!v) {
    st.bind(index);
  } else if (std::isnan(*v)) {
    st.bind(index, "nan");
  } else if (std::isinf(*v)) {
    st.bind(index, *v > 0 ? "inf" : "-inf");
  } else {
    st.bind(index, *v);
  }
}

std::optional<double> column_real(SQLite::Statement& st, int index) {
  SQLite::Column c = st.getColumn(index);
  if (c.isNull()) return std::nullopt;
  if (c.isText()) {
    const std::string s = c.getString();
    if (s == "nan") return std::nan("");
    if (s == "inf") return INFINITY;
    if (s == "-inf") return -INFINITY;
    throw std::runtime_error("database: unexpected text '" + s + "' in a real column");
  }
  return c.getDouble();
}

Transaction::Transaction(Database& db, bool immediate) : db_(db.raw()) {
  db_.exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN");
}

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {  // a destructor must not throw; the connection stays usable
    }
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

Database::Database(const std::string& path, OpenMode mode) : path_(path) {
  const bool ro = mode == OpenMode::ReadOnly;
  try {
    // A Database belongs to one thread (processes share the file, threads do
    // not share a connection), so SQLite's own per-call mutex is dropped: it
    // was 7% of planning 100k runs.
    if (ro) {
      open_read_only(path);
    } else {
      db_ = std::make_unique<SQLite::Database>(
          path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX);
    }
    // Several processes of one machine share the file: readers never block the
    // writer (WAL) and a writer waits for a lock instead of failing at once.
    db_->setBusyTimeout(30000);
    if (ro) {
      db_->exec("PRAGMA query_only=1");
      check_read_only_schema();
      return;
    }
    if (path != ":memory:") db_->exec("PRAGMA journal_mode=WAL");
    db_->exec("PRAGMA synchronous=NORMAL");
    // Planning writes 100k-run sweeps in one transaction; with SQLite's default
    // 2 MiB page cache the three B-trees of `runs` thrash (measured: 3.0 s ->
    // see bench/RESULTS.md). The cache grows only as pages are touched.
    db_->exec("PRAGMA cache_size=-262144");
    db_->exec("PRAGMA foreign_keys=ON");
    migrate();
  } catch (const SQLite::Exception& e) {
    throw std::runtime_error("database " + path + ": " + e.what());
  }
}

// A WAL database needs its -shm file to be read; where that cannot be created
// (a read-only folder) and no -wal file holds unmerged pages, the file is opened
// as immutable, which needs neither.
void Database::open_read_only(const std::string& path) {
  if (path == ":memory:" || !std::filesystem::exists(path))
    throw std::runtime_error("no database at " + path);
  db_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX);
  try {
    db_->execAndGet("SELECT count(*) FROM sqlite_schema");
    return;
  } catch (const SQLite::Exception&) {
    std::error_code ec;
    const auto wal = std::filesystem::file_size(path + "-wal", ec);
    if (!ec && wal > 0) throw;
  }
  db_ = std::make_unique<SQLite::Database>("file:" + path + "?immutable=1",
                                           SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX |
                                               SQLite::OPEN_URI);
}

void Database::check_read_only_schema() {
  const int v = schema_version();
  if (v != kSchemaVersion)
    throw std::runtime_error("database " + path_ + " has schema version " + std::to_string(v) +
                             (v < kSchemaVersion
                                  ? ", older than this scalelab's (" +
                                        std::to_string(kSchemaVersion) +
                                        "); a writing command (plan, run) migrates it"
                                  : ", newer than this scalelab's; upgrade scalelab"));
}

Database::~Database() = default;

SQLite::Database& Database::raw() { return *db_; }

int Database::schema_version() {
  if (!db_->tableExists("schema_version")) return 0;
  return db_->execAndGet("SELECT version FROM schema_version").getInt();
}

void Database::migrate() {
  Transaction tx(*this);
  if (!db_->tableExists("schema_version")) {
    db_->exec("CREATE TABLE schema_version (version INTEGER NOT NULL)");
    db_->exec("INSERT INTO schema_version VALUES (0)");
  }
  int v = schema_version();
  const auto& steps = migrations();
  if (v > static_cast<int>(steps.size()))
    throw std::runtime_error("database " + path_ + " has schema version " + std::to_string(v) +
                             ", newer than this scalelab (" + std::to_string(steps.size()) +
                             "); upgrade scalelab");
  for (; v < static_cast<int>(steps.size()); ++v) db_->exec(steps[v]);
  SQLite::Statement up(*db_, "UPDATE schema_version SET version = ?");
  up.bind(1, v);
  up.exec();
  tx.commit();
}

namespace {

constexpr const char* kRunColumns =
    "id, sweep, stage, name, arch, spec, params, nonembedding_params, tokens, flops, priority, "
    "status, attempts, worker, error, final_loss, env, created_at, started_at, finished_at, "
    "heartbeat_at, micro_batch, memory_estimate, perf, lease, retries, not_before";

Run read_run(SQLite::Statement& q) {
  Run r;
  r.id = q.getColumn(0).getString();
  r.sweep = q.getColumn(1).getString();
  r.stage = q.getColumn(2).getString();
  r.name = q.getColumn(3).getString();
  r.arch = q.getColumn(4).getString();
  r.spec_json = q.getColumn(5).getString();
  r.params = q.getColumn(6).getInt64();
  r.nonembedding_params = q.getColumn(7).getInt64();
  r.tokens = q.getColumn(8).getInt64();
  r.flops = q.getColumn(9).getDouble();
  r.priority = q.getColumn(10).getInt();
  r.status = run_status_from_string(q.getColumn(11).getString());
  r.attempts = q.getColumn(12).getInt();
  r.worker = q.getColumn(13).getString();
  r.error = q.getColumn(14).getString();
  r.final_loss = column_real(q, 15);
  r.env_json = q.getColumn(16).getString();
  r.created_at = q.getColumn(17).getString();
  r.started_at = q.getColumn(18).getString();
  r.finished_at = q.getColumn(19).getString();
  r.heartbeat_at = q.getColumn(20).getString();
  r.micro_batch = q.getColumn(21).getInt64();
  r.memory_estimate = column_real(q, 22);
  r.perf_json = q.getColumn(23).getString();
  r.lease = q.getColumn(24).getInt64();
  r.retries = q.getColumn(25).getInt();
  r.not_before = q.getColumn(26).getString();
  return r;
}

}  // namespace

std::vector<std::string> Database::insert_runs(const std::vector<Run>& runs) {
  std::vector<std::string> added;
  Transaction tx(*this);
  const std::string now = utc_now();
  SQLite::Statement sw(*db_, "INSERT OR IGNORE INTO sweeps(name, created_at) VALUES (?, ?)");
  SQLite::Statement ins(*db_,
                        "INSERT OR IGNORE INTO runs(id, sweep, stage, name, arch, spec, params, "
                        "nonembedding_params, tokens, flops, priority, created_at, micro_batch, "
                        "memory_estimate) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  std::string last_sweep;
  for (const Run& r : runs) {
    if (r.sweep != last_sweep) {
      sw.bind(1, r.sweep);
      sw.bind(2, now);
      sw.exec();
      sw.reset();
      last_sweep = r.sweep;
    }
    // No copies: the strings outlive the exec() below.
    ins.bindNoCopy(1, r.id);
    ins.bindNoCopy(2, r.sweep);
    ins.bindNoCopy(3, r.stage);
    ins.bindNoCopy(4, r.name);
    ins.bindNoCopy(5, r.arch);
    ins.bindNoCopy(6, r.spec_json);
    ins.bind(7, r.params);
    ins.bind(8, r.nonembedding_params);
    ins.bind(9, r.tokens);
    ins.bind(10, r.flops);
    ins.bind(11, r.priority);
    ins.bindNoCopy(12, now);
    ins.bind(13, r.micro_batch);
    bind_real(ins, 14, r.memory_estimate);
    if (ins.exec() == 1) added.push_back(r.id);
    ins.reset();
  }
  tx.commit();
  return added;
}

std::optional<Run> Database::get_run(const std::string& id) {
  SQLite::Statement q(*db_, std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?");
  q.bind(1, id);
  if (!q.executeStep()) return std::nullopt;
  return read_run(q);
}

std::vector<std::string> Database::run_ids(const std::string& sweep) {
  SQLite::Statement q(*db_, "SELECT id FROM runs WHERE sweep = ?");
  q.bind(1, sweep);
  std::vector<std::string> ids;
  while (q.executeStep()) ids.push_back(q.getColumn(0).getString());
  return ids;
}

std::vector<Run> Database::list_runs(const RunFilter& f) {
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE 1";
  if (f.sweep) sql += " AND sweep = :sweep";
  if (f.stage) sql += " AND stage = :stage";
  if (f.status) sql += " AND status = :status";
  if (f.arch) sql += " AND arch = :arch";
  sql += " ORDER BY sweep, stage, arch, flops, id";
  SQLite::Statement q(*db_, sql);
  if (f.sweep) q.bind(":sweep", *f.sweep);
  if (f.stage) q.bind(":stage", *f.stage);
  if (f.status) q.bind(":status", std::string(to_string(*f.status)));
  if (f.arch) q.bind(":arch", *f.arch);
  std::vector<Run> out;
  while (q.executeStep()) out.push_back(read_run(q));
  return out;
}

std::vector<StatusCount> Database::status_counts() {
  SQLite::Statement q(*db_,
                      "SELECT sweep, status, count(*) FROM runs GROUP BY sweep, status "
                      "ORDER BY sweep, status");
  std::vector<StatusCount> out;
  while (q.executeStep())
    out.push_back({q.getColumn(0).getString(), run_status_from_string(q.getColumn(1).getString()),
                   q.getColumn(2).getInt64()});
  return out;
}

void write_metrics(SQLite::Database& db, const std::vector<Metric>& rows) {
  SQLite::Statement up(
      db,
      "INSERT INTO metrics(run_id, step, tokens, train_loss, val_loss, lr, tokens_per_s, "
      "elapsed_s, grad_norm) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(run_id, step) DO UPDATE SET "
      "tokens = excluded.tokens, train_loss = excluded.train_loss, "
      "val_loss = coalesce(excluded.val_loss, val_loss), lr = excluded.lr, "
      "tokens_per_s = excluded.tokens_per_s, elapsed_s = excluded.elapsed_s, "
      "grad_norm = excluded.grad_norm");
  for (const Metric& m : rows) {
    up.bind(1, m.run_id);
    up.bind(2, m.step);
    up.bind(3, m.tokens);
    bind_real(up, 4, m.train_loss);
    bind_real(up, 5, m.val_loss);
    bind_real(up, 6, m.lr);
    bind_real(up, 7, m.tokens_per_s);
    bind_real(up, 8, m.elapsed_s);
    bind_real(up, 9, m.grad_norm);
    up.exec();
    up.reset();
  }
}

void Database::log_metrics(const std::vector<Metric>& rows) {
  Transaction tx(*this);
  write_metrics(*db_, rows);
  tx.commit();
}

namespace {
constexpr const char* kMetricColumns =
    "run_id, step, tokens, train_loss, val_loss, lr, tokens_per_s, elapsed_s, grad_norm";
Metric read_metric(SQLite::Statement& q) {
  Metric m;
  m.run_id = q.getColumn(0).getString();
  m.step = q.getColumn(1).getInt64();
  m.tokens = q.getColumn(2).getInt64();
  m.train_loss = column_real(q, 3);
  m.val_loss = column_real(q, 4);
  m.lr = column_real(q, 5);
  m.tokens_per_s = column_real(q, 6);
  m.elapsed_s = column_real(q, 7);
  m.grad_norm = column_real(q, 8);
  return m;
}
}  // namespace

std::vector<Metric> Database::metrics(const std::string& run_id) {
  SQLite::Statement q(*db_, std::string("SELECT ") + kMetricColumns +
                                " FROM metrics WHERE run_id = ? ORDER BY step");
  q.bind(1, run_id);
  std::vector<Metric> out;
  while (q.executeStep()) out.push_back(read_metric(q));
  return out;
}

std::vector<Metric> Database::last_metrics() {
  SQLite::Statement q(*db_, std::string("SELECT ") + kMetricColumns +
                                " FROM metrics m WHERE step = (SELECT max(step) FROM metrics "
                                "WHERE run_id = m.run_id) ORDER BY run_id");
  std::vector<Metric> out;
  while (q.executeStep()) out.push_back(read_metric(q));
  return out;
}

int64_t Database::save_fit(const Fit& f) {
  SQLite::Statement ins(*db_,
                        "INSERT INTO fits(method, arch, n_points, result, created_at) "
                        "VALUES (?,?,?,?,?)");
  ins.bind(1, f.method);
  ins.bind(2, f.arch);
  ins.bind(3, f.n_points);
  ins.bind(4, f.result_json);
  ins.bind(5, f.created_at.empty() ? utc_now() : f.created_at);
  ins.exec();
  return db_->getLastInsertRowid();
}

int64_t Database::replace_fit(const Fit& f) {
  Transaction tx(*this);
  SQLite::Statement del(*db_, "DELETE FROM fits WHERE method = ? AND arch = ?");
  del.bind(1, f.method);
  del.bind(2, f.arch);
  del.exec();
  const int64_t id = save_fit(f);
  tx.commit();
  return id;
}

std::vector<Fit> Database::fits(const std::string& method) {
  SQLite::Statement q(*db_, method.empty()
                                ? "SELECT id, method, arch, n_points, result, created_at FROM fits "
                                  "ORDER BY id"
                                : "SELECT id, method, arch, n_points, result, created_at FROM fits "
                                  "WHERE method = ? ORDER BY id");
  if (!method.empty()) q.bind(1, method);
  std::vector<Fit> out;
  while (q.executeStep())
    out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(),
                   q.getColumn(2).getString(), q.getColumn(3).getInt(), q.getColumn(4).getString(),
                   q.getColumn(5).getString()});
  return out;
}

void Database::clear_fits() { db_->exec("DELETE FROM fits"); }

}  // namespace scalelab::db
