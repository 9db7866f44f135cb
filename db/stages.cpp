// Stages of a sweep and their gate verdicts, measured machine speeds, and the
// database's own health check.
#include <SQLiteCpp/SQLiteCpp.h>

#include "db/db.h"
#include "db/internal.h"

namespace scalelab::db {

void Database::upsert_stages(const std::string& sweep, const std::vector<Stage>& stages) {
  Transaction tx(*this);
  SQLite::Statement ins(*db_,
                        "INSERT INTO stages(sweep, stage, position, gate, state) VALUES (?,?,?,?,?) "
                        "ON CONFLICT(sweep, stage) DO UPDATE SET position = excluded.position, "
                        "gate = excluded.gate, "
                        "verdict = CASE WHEN gate = excluded.gate THEN verdict ELSE '' END, "
                        "detail = CASE WHEN gate = excluded.gate THEN detail ELSE '' END, "
                        "state = CASE WHEN gate = excluded.gate OR state = 'open' THEN state "
                        "ELSE 'waiting' END");
  for (size_t i = 0; i < stages.size(); ++i) {
    ins.bind(1, sweep);
    ins.bind(2, stages[i].stage);
    ins.bind(3, static_cast<int>(i));
    ins.bind(4, stages[i].gate);
    ins.bind(5, i == 0 ? "open" : "waiting");
    ins.exec();
    ins.reset();
  }
  tx.commit();
}

std::vector<Stage> Database::stages(const std::string& sweep) {
  SQLite::Statement q(*db_,
                      "SELECT sweep, stage, position, gate, state, verdict, detail, decided_at "
                      "FROM stages WHERE ? = '' OR sweep = ? ORDER BY sweep, position");
  q.bind(1, sweep);
  q.bind(2, sweep);
  std::vector<Stage> out;
  while (q.executeStep()) {
    Stage s;
    s.sweep = q.getColumn(0).getString();
    s.stage = q.getColumn(1).getString();
    s.position = q.getColumn(2).getInt();
    s.gate = q.getColumn(3).getString();
    s.state = q.getColumn(4).getString();
    s.verdict = q.getColumn(5).getString();
    s.detail = q.getColumn(6).getString();
    s.decided_at = q.getColumn(7).getString();
    out.push_back(std::move(s));
  }
  return out;
}

void Database::decide_stage(const Stage& s) {
  SQLite::Statement up(*db_, "UPDATE stages SET state = ?, verdict = ?, detail = ?, decided_at = ? "
                             "WHERE sweep = ? AND stage = ?");
  up.bind(1, s.state);
  up.bind(2, s.verdict);
  up.bind(3, s.detail);
  up.bind(4, utc_now());
  up.bind(5, s.sweep);
  up.bind(6, s.stage);
  if (up.exec() != 1)
    throw std::runtime_error("decide_stage: no stage '" + s.stage + "' in sweep " + s.sweep);
}

std::vector<StageCount> Database::stage_counts() {
  SQLite::Statement q(*db_, "SELECT sweep, stage, arch, status, count(*), sum(flops) FROM runs "
                            "GROUP BY sweep, stage, arch, status ORDER BY sweep, stage, arch");
  std::vector<StageCount> out;
  while (q.executeStep())
    out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(),
                   q.getColumn(2).getString(), run_status_from_string(q.getColumn(3).getString()),
                   q.getColumn(4).getInt64(), q.getColumn(5).getDouble()});
  return out;
}

void Database::record_speed(const std::string& host, const std::string& device,
                            double flops_per_s, const std::string& source) {
  SQLite::Statement up(*db_, "INSERT OR REPLACE INTO speeds(host, device, flops_per_s, source, "
                             "measured_at) VALUES (?,?,?,?,?)");
  up.bind(1, host);
  up.bind(2, device);
  up.bind(3, flops_per_s);
  up.bind(4, source);
  up.bind(5, utc_now());
  up.exec();
}

std::optional<double> Database::speed(const std::string& host, const std::string& device) {
  SQLite::Statement q(*db_, "SELECT flops_per_s FROM speeds WHERE host = ? AND device = ?");
  q.bind(1, host);
  q.bind(2, device);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getDouble();
}

std::string Database::quick_check() {
  std::string out;
  try {
    SQLite::Statement q(*db_, "PRAGMA quick_check(8)");
    while (q.executeStep()) out += (out.empty() ? "" : "\n") + q.getColumn(0).getString();
  } catch (const SQLite::Exception& e) {  // too damaged to even check
    out += (out.empty() ? "" : "\n") + std::string(e.what());
  }
  return out;
}

}  // namespace scalelab::db
