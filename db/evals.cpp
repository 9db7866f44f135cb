// Eval results (db/db.h EvalRow): written as a whole per (run, eval).
#include <SQLiteCpp/SQLiteCpp.h>
#include <cmath>
#include <stdexcept>

#include "db/db.h"
#include "db/internal.h"

namespace scalelab::db {

void Database::replace_evals(const std::string& run_id, const std::string& eval,
                             const std::vector<EvalRow>& rows) {
  Transaction tx(*this);
  SQLite::Statement del(*db_, "DELETE FROM evals WHERE run_id = ? AND eval = ?");
  del.bind(1, run_id);
  del.bind(2, eval);
  del.exec();
  SQLite::Statement ins(*db_,
                        "INSERT INTO evals (run_id, eval, variant, context, depth, position, value, "
                        "n, detail, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)");
  const std::string now = utc_now();
  for (const EvalRow& r : rows) {
    if (r.run_id != run_id || r.eval != eval)
      throw std::invalid_argument("replace_evals: a row of (" + r.run_id + ", " + r.eval +
                                  ") among those of (" + run_id + ", " + eval + ")");
    ins.bind(1, r.run_id);
    ins.bind(2, r.eval);
    ins.bind(3, r.variant);
    ins.bind(4, static_cast<int64_t>(r.context));
    ins.bind(5, r.depth);
    ins.bind(6, static_cast<int64_t>(r.position));
    bind_real(ins, 7, r.value);
    ins.bind(8, static_cast<int64_t>(r.n));
    ins.bind(9, r.detail);
    ins.bind(10, r.created_at.empty() ? now : r.created_at);
    ins.exec();
    ins.reset();
  }
  tx.commit();
}

std::vector<EvalRow> Database::evals(const std::string& run_id) {
  SQLite::Statement q(*db_,
                      "SELECT run_id, eval, variant, context, depth, position, value, n, detail, "
                      "created_at FROM evals WHERE ? = '' OR run_id = ? "
                      "ORDER BY run_id, eval, variant, context, depth, position");
  q.bind(1, run_id);
  q.bind(2, run_id);
  std::vector<EvalRow> out;
  while (q.executeStep()) {
    EvalRow r;
    r.run_id = q.getColumn(0).getString();
    r.eval = q.getColumn(1).getString();
    r.variant = q.getColumn(2).getString();
    r.context = q.getColumn(3).getInt64();
    r.depth = q.getColumn(4).getDouble();
    r.position = q.getColumn(5).getInt64();
    r.value = column_real(q, 6).value_or(std::nan(""));
    r.n = q.getColumn(7).getInt64();
    r.detail = q.getColumn(8).getString();
    r.created_at = q.getColumn(9).getString();
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace scalelab::db
