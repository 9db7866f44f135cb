#include "db/lineage.h"

#include <SQLiteCpp/SQLiteCpp.h>

namespace scalelab::db {

const char* const kBranchReady =
    "(runs.parent_id IS NULL OR EXISTS (SELECT 1 FROM branch_points bp WHERE bp.parent_id = "
    "runs.parent_id AND bp.step = runs.branch_step))";

std::string branch_ready_sql(const std::string& as) {
  return "(" + as + ".parent_id IS NULL OR EXISTS (SELECT 1 FROM branch_points bp WHERE "
         "bp.parent_id = " + as + ".parent_id AND bp.step = " + as + ".branch_step))";
}

void record_branch_point(Database& db, const BranchPointRow& p) {
  SQLite::Statement up(db.raw(),
                       "INSERT INTO branch_points(parent_id, step, tokens, path, created_at) "
                       "VALUES (?,?,?,?,?) ON CONFLICT(parent_id, step) DO UPDATE SET "
                       "tokens = excluded.tokens, path = excluded.path, "
                       "created_at = excluded.created_at");
  up.bind(1, p.parent_id);
  up.bind(2, p.step);
  up.bind(3, p.tokens);
  up.bind(4, p.path);
  up.bind(5, p.created_at.empty() ? utc_now() : p.created_at);
  up.exec();
}

std::optional<BranchPointRow> branch_point(Database& db, const std::string& parent_id,
                                           int64_t step) {
  SQLite::Statement q(db.raw(),
                      "SELECT tokens, path, created_at FROM branch_points WHERE parent_id = ? "
                      "AND step = ?");
  q.bind(1, parent_id);
  q.bind(2, step);
  if (!q.executeStep()) return std::nullopt;
  return BranchPointRow{parent_id, step, q.getColumn(0).getInt64(), q.getColumn(1).getString(),
                        q.getColumn(2).getString()};
}

std::vector<Lineage> lineages(Database& db) {
  SQLite::Statement q(db.raw(),
                      "SELECT id, coalesce(parent_id, ''), coalesce(branch_step, 0), "
                      "json_valid(spec) AND json_type(spec, '$.branches') IS NOT NULL FROM runs "
                      "WHERE parent_id IS NOT NULL OR (json_valid(spec) AND "
                      "json_type(spec, '$.branches') IS NOT NULL) ORDER BY id");
  std::vector<Lineage> out;
  while (q.executeStep())
    out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(),
                   q.getColumn(2).getInt64(), q.getColumn(3).getInt() != 0});
  return out;
}

int64_t waiting_branches(Database& db, const RunFilter& f) {
  std::string sql =
      "SELECT count(*) FROM runs WHERE status = 'pending' AND parent_id IS NOT NULL AND ("
      "EXISTS (SELECT 1 FROM runs p WHERE p.id = runs.parent_id AND p.status = 'running') OR " +
      std::string(kBranchReady) + ")";
  if (f.sweep) sql += " AND sweep = :sweep";
  if (f.stage) sql += " AND stage = :stage";
  if (f.arch) sql += " AND arch = :arch";
  SQLite::Statement q(db.raw(), sql);
  if (f.sweep) q.bind(":sweep", *f.sweep);
  if (f.stage) q.bind(":stage", *f.stage);
  if (f.arch) q.bind(":arch", *f.arch);
  q.executeStep();
  return q.getColumn(0).getInt64();
}

}  // namespace scalelab::db
