// Run folders on shared storage: how a job on another node (a Slurm task)
// trains a run without ever opening the central SQLite file, which must not
// be shared over a network filesystem. The one scheduler writes what to train;
// the job appends what happened; the scheduler ingests it into the database
// under the run's lease.
//
//   RUN_DIR/task.json              the run, its lease and the trainer options (scheduler)
//   RUN_DIR/journal-<lease>.jsonl  one JSON event a line, appended by the job:
//       {"e":"start","host":..,"pid":..,"job":..}   {"e":"metrics","rows":[..]}
//       {"e":"beat"}   {"e":"perf","json":..}   {"e":"done","loss":..,"env":..}   {"e":"failed","error":..,"diverged":..}
//       {"e":"released","why":..}   {"e":"retry","why":..}
//   RUN_DIR/checkpoint.pt, train.log, model.pt   as for a local run
//
// Fencing reaches the job too: a journal is named by its lease, the scheduler
// reads only the current lease's journal, and the job stops at its next
// heartbeat when task.json names a newer lease than its own.
#pragma once

#include <nlohmann/json.hpp>

#include <ios>
#include <string>
#include <vector>

#include "db/db.h"

namespace scalelab::sweep {

struct Task {
  db::Run run;  // with run.lease, the token this task trains under
  double heartbeat_s = 10, checkpoint_every_s = 120;
  std::string device = "auto";
  int threads = 0;
  int64_t micro_batch = 0;
};

// Writes DIR/task.json through a temporary file and a rename.
void write_task(const std::string& dir, const Task& t);
// Throws std::runtime_error naming the file when it is missing or malformed.
Task read_task(const std::string& dir);
// The lease task.json names now; 0 when it cannot be read.
int64_t task_lease(const std::string& dir);
std::string journal_path(const std::string& dir, int64_t lease);

// Metrics as JSON; non-finite reals as the strings "nan", "inf", "-inf".
nlohmann::json to_json(const db::Metric& m);
db::Metric metric_from_json(const std::string& run_id, const nlohmann::json& j);

// Appends whole lines with one write(2) each (O_APPEND), so a reader never
// sees half of one unless the writer died mid-line, and then ignores it.
class JournalWriter {
 public:
  explicit JournalWriter(const std::string& path);  // throws std::runtime_error
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;
  void write(const nlohmann::json& event, bool sync = false);

 private:
  std::string path_;
  int fd_ = -1;
};

// Reads the events appended since the last call (complete lines only).
struct JournalReader {
  std::string path;
  std::streamoff offset = 0;
  std::vector<nlohmann::json> read_new();
};

}  // namespace scalelab::sweep
