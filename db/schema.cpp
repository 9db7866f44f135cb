#include "db/schema.h"

namespace scalelab::db {

namespace {

// 4 -> 5: eval results beside the runs (db/db.h EvalRow). One row per
// measured point: MQAR accuracy of an mqar run (variant "pairs=P"),
// S-NIAH exact-match recall per (variant, context, depth), held-out loss per
// position bucket (position = the bucket's last token position, 1-based).
// Unused coordinates are 0 rather than NULL, so the UNIQUE key holds.
std::string evals_table() {
  return R"sql(
CREATE TABLE evals (
  run_id      TEXT NOT NULL REFERENCES runs(id),
  eval        TEXT NOT NULL,
  variant     TEXT NOT NULL DEFAULT '',
  context     INTEGER NOT NULL DEFAULT 0,
  depth       REAL NOT NULL DEFAULT 0,
  position    INTEGER NOT NULL DEFAULT 0,
  value,
  n           INTEGER NOT NULL DEFAULT 0,
  detail      TEXT NOT NULL DEFAULT '{}',
  created_at  TEXT NOT NULL,
  UNIQUE (run_id, eval, variant, context, depth, position)
);
CREATE INDEX evals_by_run ON evals(run_id, eval);
)sql";
}

}  // namespace

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> steps = {
      // 0 -> 1: the first schema.
      R"sql(
CREATE TABLE sweeps (
  name        TEXT PRIMARY KEY,
  created_at  TEXT NOT NULL
);
CREATE TABLE runs (
  id            TEXT PRIMARY KEY,
  sweep         TEXT NOT NULL REFERENCES sweeps(name),
  stage         TEXT NOT NULL DEFAULT '',
  name          TEXT NOT NULL DEFAULT '',
  arch          TEXT NOT NULL,
  spec          TEXT NOT NULL,
  params        INTEGER NOT NULL,
  nonembedding_params INTEGER NOT NULL,
  tokens        INTEGER NOT NULL,
  flops         REAL NOT NULL,
  priority      INTEGER NOT NULL DEFAULT 0,
  status        TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending','running','done','failed','cancelled')),
  attempts      INTEGER NOT NULL DEFAULT 0,
  worker        TEXT NOT NULL DEFAULT '',
  error         TEXT NOT NULL DEFAULT '',
  final_loss,
  env           TEXT NOT NULL DEFAULT '{}',
  created_at    TEXT NOT NULL,
  started_at    TEXT NOT NULL DEFAULT '',
  finished_at   TEXT NOT NULL DEFAULT '',
  heartbeat_at  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_status ON runs(status, priority DESC, flops ASC);
CREATE INDEX runs_by_sweep ON runs(sweep);
CREATE TABLE metrics (
  run_id        TEXT NOT NULL REFERENCES runs(id),
  step          INTEGER NOT NULL,
  tokens        INTEGER NOT NULL,
  train_loss, val_loss, lr, tokens_per_s, elapsed_s,
  UNIQUE (run_id, step)
);
CREATE TABLE fits (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  method      TEXT NOT NULL,
  arch        TEXT NOT NULL DEFAULT '',
  n_points    INTEGER NOT NULL,
  result      TEXT NOT NULL,
  created_at  TEXT NOT NULL
);
)sql",
      // 1 -> 2: the trainer's plan and measurements. micro_batch: sequences per
      // forward the planner chose for its memory budget (0: the whole batch);
      // memory_estimate: the planner's bytes per GPU at that micro-batch; perf:
      // what the trainer measured (tokens/s, MFU, peak memory, start-up, time
      // in evaluation and checkpoints) as JSON; metrics.grad_norm: the mean
      // pre-clip gradient norm over the logged steps.
      R"sql(
ALTER TABLE runs ADD COLUMN micro_batch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN memory_estimate REAL;
ALTER TABLE runs ADD COLUMN perf TEXT NOT NULL DEFAULT '{}';
ALTER TABLE metrics ADD COLUMN grad_norm;
)sql",
      // 2 -> 3: WSD cooldown branches (db/lineage.h). A branch's lineage is part
      // of its identity, so it is read from its spec instead of being stored a
      // second time; branch_points records the checkpoints parents have written.
      R"sql(
ALTER TABLE runs ADD COLUMN parent_id TEXT GENERATED ALWAYS AS
  (CASE WHEN json_valid(spec) THEN json_extract(spec, '$.branch_of') END) VIRTUAL;
ALTER TABLE runs ADD COLUMN branch_step INTEGER GENERATED ALWAYS AS
  (CASE WHEN json_valid(spec) THEN json_extract(spec, '$.branch_step') END) VIRTUAL;
CREATE INDEX runs_by_parent ON runs(parent_id);
CREATE TABLE branch_points (
  parent_id   TEXT NOT NULL REFERENCES runs(id),
  step        INTEGER NOT NULL,
  tokens      INTEGER NOT NULL,
  path        TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  PRIMARY KEY (parent_id, step)
);
)sql",
      // 3 -> 4: leases with fencing tokens and their log, automatic retries
      // with backoff, the `diverged` status, stages with gate verdicts, and
      // measured machine speeds. The status CHECK gains 'diverged' by editing
      // the stored CREATE statement (SQLite's documented procedure for
      // constraint changes that leave the on-disk format alone,
      // https://sqlite.org/lang_altertable.html#otheralter): unlike a table
      // rebuild it keeps columns other migrations add to `runs`. RESET reloads
      // this connection's schema; the CREATE TABLEs below bump the schema
      // cookie, so other connections reload it too.
      R"sql(
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''failed'',''cancelled'')',
                                       '''failed'',''cancelled'',''diverged'')')
 WHERE type = 'table' AND name = 'runs';
PRAGMA writable_schema = RESET;
ALTER TABLE runs ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN not_before TEXT NOT NULL DEFAULT '';
CREATE TABLE leases (
  run_id        TEXT NOT NULL REFERENCES runs(id),
  token         INTEGER NOT NULL,
  worker        TEXT NOT NULL,
  host          TEXT NOT NULL DEFAULT '',
  boot_id       TEXT NOT NULL DEFAULT '',
  claimer_pid   INTEGER NOT NULL DEFAULT 0,
  claimer_start INTEGER NOT NULL DEFAULT 0,
  pid           INTEGER NOT NULL DEFAULT 0,
  pid_start     INTEGER NOT NULL DEFAULT 0,
  heartbeat_s   REAL NOT NULL DEFAULT 10,
  claimed_at    TEXT NOT NULL,
  last_write_at TEXT NOT NULL DEFAULT '',
  ended_at      TEXT NOT NULL DEFAULT '',
  outcome       TEXT NOT NULL DEFAULT '',
  reason        TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, token)
);
CREATE INDEX leases_held ON leases(host, ended_at);
CREATE TABLE stages (
  sweep       TEXT NOT NULL REFERENCES sweeps(name),
  stage       TEXT NOT NULL,
  position    INTEGER NOT NULL,
  gate        TEXT NOT NULL DEFAULT '',
  state       TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting','open','blocked')),
  verdict     TEXT NOT NULL DEFAULT '',
  detail      TEXT NOT NULL DEFAULT '',
  decided_at  TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (sweep, stage)
);
CREATE TABLE speeds (
  host        TEXT NOT NULL,
  device      TEXT NOT NULL,
  flops_per_s REAL NOT NULL,
  source      TEXT NOT NULL,
  measured_at TEXT NOT NULL,
  PRIMARY KEY (host, device)
);
)sql",
      evals_table(),
  };
  return steps;
}

}  // namespace scalelab::db
