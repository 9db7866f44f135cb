// Shared by the db/ translation units only; not part of the public API.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <vector>

#include "db/db.h"

namespace scalelab::db {

// Upserts metric rows; the caller holds the transaction.
void write_metrics(SQLite::Database& db, const std::vector<Metric>& rows);

// UTC now with milliseconds, computed by SQLite so every process of a host
// uses the same clock arithmetic: "2026-11-23T19:30:00.123Z".
inline constexpr const char* kNowMs = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

}  // namespace scalelab::db
