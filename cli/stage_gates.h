// Opening stages: a waiting stage opens once the stage before it has no
// pending or running runs and its gate (sweep/gate.h) passes on that stage's
// done runs; otherwise it is blocked. The verdict and its numbers are stored
// (db::Stage) and shown by `status` and `report`.
#pragma once

#include "db/db.h"

namespace scalelab::cli {

// Decides every waiting stage that can be decided now. Returns how many opened.
int open_stages_by_gates(db::Database& db);

// "stage s2: blocked, gate '...': failed (exponent(softmax) = 0.05; ...)", or
// "" for a first stage without a gate (nothing to say).
std::string describe_stage(const db::Stage& s);

}  // namespace scalelab::cli
