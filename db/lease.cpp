// Leases: claims with fencing tokens, the lease log, retries with backoff, and
// reclaiming runs whose holder died (db/db.h explains the rules).
//
// Every claim increments runs.lease and appends a row to `leases`; every fenced
// write checks, in the same transaction, that the token is still the run's
// current one, so once a run is claimed again nothing of the old holder lands.
#include <SQLiteCpp/SQLiteCpp.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "db/db.h"
#include "db/internal.h"
#include "db/lineage.h"

namespace scalelab::db {

namespace {

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

// Field 3 (state) and field 22 (start time in clock ticks) of /proc/PID/stat;
// false when there is no such process.
bool proc_stat(int64_t pid, char& state, int64_t& start) {
  const std::string s = first_line("/proc/" + std::to_string(pid) + "/stat");
  const size_t p = s.rfind(')');  // the command name may hold spaces and ')'
  if (p == std::string::npos || p + 2 >= s.size()) return false;
  std::istringstream f(s.substr(p + 2));
  std::string tok;
  f >> state;
  for (int field = 4; field < 22; ++field) f >> tok;
  return static_cast<bool>(f >> start);
}

}  // namespace

ProcessId process_id(int64_t pid) {
  ProcessId p;
  char h[256] = {0};
  ::gethostname(h, sizeof h - 1);
  p.host = h;
  p.boot_id = first_line("/proc/sys/kernel/random/boot_id");
  p.pid = pid;
  char state = 0;
  if (!proc_stat(p.pid, state, p.start)) p.start = 0;
  return p;
}

ProcessId this_process() { return process_id(::getpid()); }

bool process_alive(int64_t pid, int64_t start) {
  char state = 0;
  int64_t now_start = 0;
  if (pid <= 0 || !proc_stat(pid, state, now_start)) return false;
  if (state == 'Z' || state == 'X') return false;  // exited, not yet reaped
  return start == 0 || now_start == start;         // else the pid was reused
}

namespace {

// A running run is stale when its heartbeat is older than :stale and than 3 of
// its holder's heartbeat intervals (a too-short --stale-after cannot make a
// live holder look dead).
constexpr const char* kStale =
    "(r.status = 'running' AND (julianday('now') - julianday(r.heartbeat_at)) * 86400.0 > "
    "max(:stale, 3 * coalesce((SELECT heartbeat_s FROM leases l WHERE l.run_id = r.id AND "
    "l.token = r.lease), 0)))";
constexpr const char* kStageOpen =
    "NOT EXISTS (SELECT 1 FROM stages s WHERE s.sweep = r.sweep AND s.stage = r.stage AND "
    "s.state <> 'open')";

void bind_filter(SQLite::Statement& q, const RunFilter& f) {
  if (f.sweep) q.bind(":sweep", *f.sweep);
  if (f.stage) q.bind(":stage", *f.stage);
  if (f.arch) q.bind(":arch", *f.arch);
}

std::string filter_sql(const RunFilter& f) {
  std::string s;
  if (f.sweep) s += " AND r.sweep = :sweep";
  if (f.stage) s += " AND r.stage = :stage";
  if (f.arch) s += " AND r.arch = :arch";
  return s;
}

// Why L is not current, for LeaseLost.
std::string lost_reason(SQLite::Database& db, const Lease& l) {
  SQLite::Statement q(db, "SELECT status, lease, worker FROM runs WHERE id = ?");
  q.bind(1, l.run_id);
  if (!q.executeStep()) return "run " + l.run_id + " does not exist";
  const std::string status = q.getColumn(0).getString();
  const int64_t cur = q.getColumn(1).getInt64();
  std::string s = "run " + l.run_id + ": lease " + std::to_string(l.token) + " is no longer current";
  if (cur != l.token) return s + " (claimed again: lease " + std::to_string(cur) + ", " + status +
                             " by " + q.getColumn(2).getString() + ")";
  return s + " (the run is " + status + ")";
}

// Throws LeaseLost unless L is the current lease of a running run.
void require(SQLite::Database& db, const Lease& l) {
  SQLite::Statement q(db, "SELECT 1 FROM runs WHERE id = ? AND lease = ? AND status = 'running'");
  q.bind(1, l.run_id);
  q.bind(2, l.token);
  if (!q.executeStep()) throw LeaseLost(lost_reason(db, l));
}

void touch_lease(SQLite::Database& db, const Lease& l) {
  SQLite::Statement up(db, std::string("UPDATE leases SET last_write_at = ") + kNowMs +
                               " WHERE run_id = ? AND token = ?");
  up.bind(1, l.run_id);
  up.bind(2, l.token);
  up.exec();
}

// Sets the status (and more, from EXTRA: "col = ?" pairs bound after) of the
// run L holds, ending the lease with OUTCOME. Throws LeaseLost.
void end_run(Database& d, const Lease& l, const std::string& status, const std::string& outcome,
             const std::string& reason, const std::string& error) {
  SQLite::Database& db = d.raw();
  require(db, l);
  SQLite::Statement up(db, "UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?");
  up.bind(1, status);
  up.bind(2, error);
  up.bind(3, status == "pending" ? std::string() : utc_now());
  up.bind(4, l.run_id);
  up.exec();
  SQLite::Statement end(db, std::string("UPDATE leases SET ended_at = ") + kNowMs +
                                ", last_write_at = " + kNowMs +
                                ", outcome = ?, reason = ? WHERE run_id = ? AND token = ?");
  end.bind(1, outcome);
  end.bind(2, reason);
  end.bind(3, l.run_id);
  end.bind(4, l.token);
  end.exec();
}

}  // namespace

void Database::end_lease(const Lease& l, const std::string& outcome, const std::string& reason) {
  SQLite::Statement end(*db_, std::string("UPDATE leases SET ended_at = ") + kNowMs +
                                  ", outcome = ?, reason = ? WHERE run_id = ? AND token = ? AND "
                                  "ended_at = ''");
  end.bind(1, outcome);
  end.bind(2, reason);
  end.bind(3, l.run_id);
  end.bind(4, l.token);
  end.exec();
}

std::optional<Run> Database::take(const std::string& id, const Holder& h, const ClaimOptions&) {
  const std::string now = utc_now();
  SQLite::Statement up(*db_,
                       "UPDATE runs SET status = 'running', worker = ?, attempts = attempts + 1, "
                       "lease = lease + 1, started_at = ?, heartbeat_at = ?, error = '', "
                       "not_before = '' WHERE id = ?");
  up.bind(1, h.worker);
  up.bind(2, now);
  up.bind(3, now);
  up.bind(4, id);
  up.exec();
  SQLite::Statement ins(*db_, std::string("INSERT INTO leases(run_id, token, worker, host, boot_id, "
                                          "claimer_pid, claimer_start, heartbeat_s, claimed_at) "
                                          "SELECT id, lease, ?, ?, ?, ?, ?, ?, ") +
                                  kNowMs + " FROM runs WHERE id = ?");
  ins.bind(1, h.worker);
  ins.bind(2, h.process.host);
  ins.bind(3, h.process.boot_id);
  ins.bind(4, h.process.pid);
  ins.bind(5, h.process.start);
  ins.bind(6, h.heartbeat_s);
  ins.bind(7, id);
  ins.exec();
  return get_run(id);
}

std::optional<Run> Database::claim_next_run(const Holder& h, const ClaimOptions& o) {
  Transaction tx(*this);
  const std::string sql =
      std::string("SELECT r.id, r.status, r.retries, r.lease, "
                  "(julianday('now') - julianday(r.heartbeat_at)) * 86400.0 FROM runs r WHERE "
                  "((r.status = 'pending' AND (r.not_before = '' OR julianday(r.not_before) <= "
                  "julianday('now'))) OR ") +
      kStale + ") AND " + kStageOpen + " AND " + branch_ready_sql("r") + filter_sql(o.filter) +
      (o.max_memory > 0 ? " AND coalesce(r.memory_estimate, 0) <= :mem" : "") +
      " ORDER BY r.priority DESC, r.flops ASC, r.id LIMIT 1";
  while (true) {
    SQLite::Statement pick(*db_, sql);
    pick.bind(":stale", o.stale_after_s);
    if (o.max_memory > 0) pick.bind(":mem", o.max_memory);
    bind_filter(pick, o.filter);
    if (!pick.executeStep()) {
      tx.commit();
      return std::nullopt;
    }
    const std::string id = pick.getColumn(0).getString();
    const bool stale = pick.getColumn(1).getString() == "running";
    const int retries = pick.getColumn(2).getInt();
    const Lease old{id, pick.getColumn(3).getInt64()};
    const double age = pick.getColumn(4).getDouble();
    pick.reset();
    if (!stale) {
      auto r = take(id, h, o);
      tx.commit();
      return r;
    }
    // Its node was lost: a failure that is not the run's fault, so a retry.
    const std::string why = "no heartbeat for " + std::to_string(static_cast<int64_t>(age)) + " s";
    end_lease(old, "expired", why);
    const bool give_up = retries >= o.max_retries;
    SQLite::Statement up(*db_, give_up ? "UPDATE runs SET status = 'failed', error = ?, "
                                         "finished_at = ? WHERE id = ?"
                                       : "UPDATE runs SET retries = retries + 1 WHERE id = ?");
    if (give_up) {
      up.bind(1, "lost its worker " + std::to_string(retries + 1) + " times (" + why + ")");
      up.bind(2, utc_now());
    }
    up.bind(give_up ? 3 : 1, id);
    up.exec();
    if (!give_up) {
      auto r = take(id, h, o);
      tx.commit();
      return r;
    }
  }
}

std::optional<Run> Database::claim_next_run(const std::string& worker, double stale_after_s,
                                            const RunFilter& f) {
  ClaimOptions o;
  o.stale_after_s = stale_after_s;
  o.filter = f;
  return claim_next_run(Holder{worker, this_process(), 10}, o);
}

std::optional<Lease> Database::claim_run(const std::string& id, const std::string& worker,
                                         double stale_after_s) {
  Transaction tx(*this);
  SQLite::Statement q(*db_, std::string("SELECT r.status = 'running', r.lease FROM runs r WHERE "
                                        "r.id = :id AND (r.status IN "
                                        "('pending','failed','diverged') OR ") +
                                kStale + ") AND " + branch_ready_sql("r"));
  q.bind(":id", id);
  q.bind(":stale", stale_after_s);
  if (!q.executeStep()) return std::nullopt;
  const bool stale = q.getColumn(0).getInt() != 0;
  const Lease old{id, q.getColumn(1).getInt64()};
  q.reset();
  if (stale) end_lease(old, "expired", "claimed by hand after its heartbeat stopped");
  auto r = take(id, Holder{worker, this_process(), 10}, {});
  tx.commit();
  return Lease{id, r->lease};
}

std::vector<std::string> Database::reclaim_dead_holders(int max_retries) {
  const ProcessId me = this_process();
  struct Held {
    Lease lease;
    int64_t claimer, claimer_start, pid, pid_start;
    int retries;
  };
  std::vector<Held> held;
  {
    SQLite::Statement q(*db_,
                        "SELECT r.id, r.lease, l.claimer_pid, l.claimer_start, l.pid, l.pid_start, "
                        "r.retries FROM runs r JOIN leases l ON l.run_id = r.id AND l.token = "
                        "r.lease WHERE r.status = 'running' AND l.host = ? AND l.boot_id = ?");
    q.bind(1, me.host);
    q.bind(2, me.boot_id);
    while (q.executeStep())
      held.push_back({{q.getColumn(0).getString(), q.getColumn(1).getInt64()},
                      q.getColumn(2).getInt64(), q.getColumn(3).getInt64(),
                      q.getColumn(4).getInt64(), q.getColumn(5).getInt64(), q.getColumn(6).getInt()});
  }
  std::vector<std::string> out;
  for (const Held& h : held) {
    // A live claimer (the trainer's scheduler) reaps its child and records
    // what happened; a live trainer whose scheduler died trains on.
    if (process_alive(h.claimer, h.claimer_start)) continue;
    if (h.pid > 0 && process_alive(h.pid, h.pid_start)) continue;
    const std::string why = "holder process " + std::to_string(h.pid > 0 ? h.pid : h.claimer) +
                            " on " + me.host + " is gone";
    Transaction tx(*this);
    try {
      const bool give_up = h.retries >= max_retries;
      end_run(*this, h.lease, give_up ? "failed" : "pending", "reclaimed", why,
              give_up ? why + " (" + std::to_string(h.retries + 1) + " times)" : why);
      if (!give_up) {
        SQLite::Statement up(*db_, "UPDATE runs SET retries = retries + 1 WHERE id = ?");
        up.bind(1, h.lease.run_id);
        up.exec();
      }
      tx.commit();
      out.push_back(h.lease.run_id);
    } catch (const LeaseLost&) {  // finished or reclaimed since it was read
    }
  }
  return out;
}

void Database::attach(const Lease& l, const ProcessId& p) {
  Transaction tx(*this);
  require(*db_, l);
  SQLite::Statement up(*db_, std::string("UPDATE leases SET pid = ?, pid_start = ?, "
                                         "last_write_at = ") +
                                 kNowMs + " WHERE run_id = ? AND token = ?");
  up.bind(1, p.pid);
  up.bind(2, p.start);
  up.bind(3, l.run_id);
  up.bind(4, l.token);
  up.exec();
  tx.commit();
}

void Database::set_worker(const Lease& l, const std::string& worker) {
  Transaction tx(*this);
  require(*db_, l);
  SQLite::Statement a(*db_, "UPDATE runs SET worker = ? WHERE id = ?");
  a.bind(1, worker);
  a.bind(2, l.run_id);
  a.exec();
  SQLite::Statement b(*db_, "UPDATE leases SET worker = ? WHERE run_id = ? AND token = ?");
  b.bind(1, worker);
  b.bind(2, l.run_id);
  b.bind(3, l.token);
  b.exec();
  tx.commit();
}

void Database::set_run_perf(const Lease& l, const std::string& perf_json) {
  Transaction tx(*this);
  require(*db_, l);
  SQLite::Statement up(*db_, "UPDATE runs SET perf = ? WHERE id = ?");
  up.bind(1, perf_json);
  up.bind(2, l.run_id);
  up.exec();
  tx.commit();
}

void Database::heartbeat(const Lease& l) {
  Transaction tx(*this);
  SQLite::Statement up(*db_, "UPDATE runs SET heartbeat_at = ? WHERE id = ? AND lease = ? AND "
                             "status = 'running'");
  up.bind(1, utc_now());
  up.bind(2, l.run_id);
  up.bind(3, l.token);
  if (up.exec() != 1) throw LeaseLost(lost_reason(*db_, l));
  touch_lease(*db_, l);
  tx.commit();
}

void Database::log_metrics(const Lease& l, const std::vector<Metric>& rows) {
  Transaction tx(*this);
  require(*db_, l);
  for (const Metric& m : rows)
    if (m.run_id != l.run_id)
      throw std::invalid_argument("log_metrics: a row of run " + m.run_id + " under the lease of " +
                                  l.run_id);
  write_metrics(*db_, rows);
  SQLite::Statement up(*db_, "UPDATE runs SET heartbeat_at = ? WHERE id = ?");
  up.bind(1, utc_now());
  up.bind(2, l.run_id);
  up.exec();
  touch_lease(*db_, l);
  tx.commit();
}

void Database::finish_run(const Lease& l, std::optional<double> final_loss,
                          const std::string& env_json) {
  Transaction tx(*this);
  end_run(*this, l, "done", "done", "", "");
  SQLite::Statement up(*db_, "UPDATE runs SET final_loss = ?, env = ? WHERE id = ?");
  bind_real(up, 1, final_loss);
  up.bind(2, env_json);
  up.bind(3, l.run_id);
  up.exec();
  tx.commit();
}

void Database::fail_run(const Lease& l, const std::string& error, bool diverged) {
  Transaction tx(*this);
  const char* s = diverged ? "diverged" : "failed";
  end_run(*this, l, s, s, error.substr(0, error.find('\n')), error);
  tx.commit();
}

void Database::release_run(const Lease& l, const std::string& reason) {
  Transaction tx(*this);
  end_run(*this, l, "pending", "released", reason, "");
  tx.commit();
}

bool Database::retry_later(const Lease& l, const std::string& reason, double backoff_s,
                           int max_retries) {
  Transaction tx(*this);
  require(*db_, l);
  SQLite::Statement q(*db_, "SELECT retries FROM runs WHERE id = ?");
  q.bind(1, l.run_id);
  q.executeStep();
  const int retries = q.getColumn(0).getInt();
  q.reset();
  if (retries >= max_retries) {
    const size_t nl = reason.find('\n');
    end_run(*this, l, "failed", "failed", reason.substr(0, nl),
            reason.substr(0, nl) + " (gave up after " + std::to_string(retries) + " retries)" +
                (nl == std::string::npos ? "" : reason.substr(nl)));
    tx.commit();
    return false;
  }
  end_run(*this, l, "pending", "retry", reason.substr(0, reason.find('\n')), reason);
  const double delay = backoff_s * std::ldexp(1.0, retries);
  SQLite::Statement up(*db_, "UPDATE runs SET retries = retries + 1, not_before = "
                             "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?) WHERE id = ?");
  up.bind(1, "+" + std::to_string(static_cast<int64_t>(std::ceil(delay))) + " seconds");
  up.bind(2, l.run_id);
  up.exec();
  tx.commit();
  return true;
}

namespace {

// For each id in IDS whose status is one of FROM: ends its current lease (when
// running) with OUTCOME and sets SET_SQL. Returns the runs changed.
int change_each(Database& d, const std::vector<std::string>& ids, const std::string& from,
                const std::string& set_sql, const std::string& outcome) {
  SQLite::Database& db = d.raw();
  Transaction tx(d);
  SQLite::Statement end(db, std::string("UPDATE leases SET ended_at = ") + kNowMs +
                                ", outcome = ?, reason = 'scalelab " + outcome +
                                "' WHERE ended_at = '' AND (run_id, token) IN (SELECT id, lease "
                                "FROM runs WHERE id = ? AND status = 'running' AND status IN (" +
                                from + "))");
  SQLite::Statement up(db, "UPDATE runs SET " + set_sql + " WHERE id = ? AND status IN (" + from + ")");
  int n = 0;
  for (const std::string& id : ids) {
    end.bind(1, outcome);
    end.bind(2, id);
    end.exec();
    end.reset();
    up.bind(1, id);
    n += up.exec();
    up.reset();
  }
  tx.commit();
  return n;
}

}  // namespace

int Database::cancel_runs(const std::vector<std::string>& ids, bool running) {
  return change_each(*this, ids,
                     running ? "'pending','failed','diverged','running'"
                             : "'pending','failed','diverged'",
                     "status = 'cancelled'", "cancelled");
}

int Database::requeue_runs(const std::vector<std::string>& ids) {
  return change_each(*this, ids, "'running'", "status = 'pending'", "requeued");
}

int Database::retry_runs(const std::vector<std::string>& ids) {
  return change_each(*this, ids, "'failed','cancelled','diverged'",
                     "status = 'pending', error = '', retries = 0, not_before = ''", "retried");
}

int Database::requeue_running(const std::string& worker) {
  std::vector<std::string> ids;
  SQLite::Statement q(*db_, "SELECT id FROM runs WHERE status = 'running' AND (? = '' OR worker = ?)");
  q.bind(1, worker);
  q.bind(2, worker);
  while (q.executeStep()) ids.push_back(q.getColumn(0).getString());
  return requeue_runs(ids);
}

std::vector<LeaseRecord> Database::leases(const std::string& run_id) {
  SQLite::Statement q(*db_,
                      "SELECT run_id, token, worker, host, claimer_pid, pid, claimed_at, "
                      "last_write_at, ended_at, outcome, reason FROM leases WHERE ? = '' OR "
                      "run_id = ? ORDER BY run_id, token");
  q.bind(1, run_id);
  q.bind(2, run_id);
  std::vector<LeaseRecord> out;
  while (q.executeStep()) {
    LeaseRecord r;
    r.run_id = q.getColumn(0).getString();
    r.token = q.getColumn(1).getInt64();
    r.worker = q.getColumn(2).getString();
    r.host = q.getColumn(3).getString();
    r.claimer_pid = q.getColumn(4).getInt64();
    r.pid = q.getColumn(5).getInt64();
    r.claimed_at = q.getColumn(6).getString();
    r.last_write_at = q.getColumn(7).getString();
    r.ended_at = q.getColumn(8).getString();
    r.outcome = q.getColumn(9).getString();
    r.reason = q.getColumn(10).getString();
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<double> Database::next_backoff_s(const RunFilter& f) {
  SQLite::Statement q(*db_, "SELECT min((julianday(r.not_before) - julianday('now')) * 86400.0) "
                            "FROM runs r WHERE r.status = 'pending' AND r.not_before <> ''" +
                                filter_sql(f));
  bind_filter(q, f);
  q.executeStep();
  if (q.getColumn(0).isNull()) return std::nullopt;
  return std::max(0.0, q.getColumn(0).getDouble());
}

}  // namespace scalelab::db
