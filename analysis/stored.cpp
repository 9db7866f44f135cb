#include "analysis/stored.h"

#include <fmt/format.h>

#include "db/db.h"

namespace scalelab::analysis {

namespace {
constexpr const char* kSuite = "_suite";
}

void store_suite(db::Database& db, const FitSuite& suite, const std::vector<RunPoint>& runs,
                 const std::string& arch) {
  db::Transaction tx(db);
  db.clear_fits();
  const std::string now = db::utc_now();
  for (const FitResult& f : suite.fits)
    db.save_fit({0, f.method, f.arch, f.n_points, to_json(f).dump(), now});
  const nlohmann::json meta = {{"notes", suite.notes},
                               {"arch", arch},
                               {"runs", runs.size()},
                               {"data_digest", runs_digest(runs)}};
  db.save_fit({0, kSuite, arch, static_cast<int>(runs.size()), meta.dump(), now});
  tx.commit();
}

StoredSuite load_suite(db::Database& db) {
  StoredSuite s;
  for (const db::Fit& f : db.fits()) {
    const nlohmann::json j = nlohmann::json::parse(f.result_json);
    if (f.method == kSuite) {
      s.found = true;
      s.created_at = f.created_at;
      s.arch = j.value("arch", "");
      s.digest = j.value("data_digest", "");
      s.runs = j.value("runs", 0);
      s.suite.notes = j.value("notes", std::vector<std::string>{});
      continue;
    }
    s.suite.fits.push_back(fit_result_from_json(j));
    if (!s.found) s.created_at = std::max(s.created_at, f.created_at);
  }
  return s;
}

std::string stale_reason(const StoredSuite& stored, const std::vector<RunPoint>& runs) {
  if (stored.suite.fits.empty() && !stored.found) return "no fits are stored";
  if (!stored.found)
    return "the stored fits do not record which runs they were made from (stored by an older "
           "scalelab)";
  const std::vector<RunPoint> mine = stored.arch.empty() ? runs : of_arch(runs, stored.arch);
  if (runs_digest(mine) == stored.digest) return "";
  return fmt::format("the fits stored at {} were made from {} finished run(s){}; there are {} "
                     "now, or their losses changed",
                     stored.created_at, stored.runs,
                     stored.arch.empty() ? "" : " of " + stored.arch, mine.size());
}

}  // namespace scalelab::analysis
