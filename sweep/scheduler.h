// The local scheduler behind `scalelab run`: claims runs from the database and
// trains each in its own process (`scalelab train RUN_ID --worker W`), so an
// out-of-memory error, a NaN or a segfault in one run never takes the sweep
// down, and the scheduler itself needs no LibTorch.
//
// Slots: one per entry of `gpus` (the child sees only that GPU through
// CUDA_VISIBLE_DEVICES), or `workers` CPU slots when no GPU is named.
// Each child's output goes to RUNS_ROOT/<run id>/train.log and is echoed here.
//
// What survives what:
//   child exits 0          the child marked its run done
//   child exits 3          it was interrupted, checkpointed and requeued itself
//   child crashes / killed the run is marked failed with the exit status and the
//                          log's last lines (`scalelab status` shows them)
//   scheduler gets SIGINT/SIGTERM  children are told to checkpoint and requeue;
//                          nothing new is claimed
//   the whole node dies    runs stay `running` with a stale heartbeat; any later
//                          scheduler reclaims them after stale_after_s and the
//                          trainer resumes from the checkpoint
// A second scheduler on the same database is safe: claims are atomic.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "db/db.h"

namespace scalelab::sweep {

struct SchedulerOptions {
  std::string db_path;
  std::string self_exe;              // the scalelab binary to start children from
  std::string runs_root = "runs";    // run folders: checkpoints, logs, weights
  int workers = 1;                   // CPU slots when gpus is empty
  std::vector<std::string> gpus;     // CUDA device ids, one slot each
  int threads_per_worker = 0;        // torch intra-op threads per child; 0: cores / slots
  double stale_after_s = 600;        // a running run with an older heartbeat is reclaimed
  int max_runs = 0;                  // stop claiming after this many; 0: no limit
  db::RunFilter filter;              // sweep / stage / arch to restrict claims to
  std::string device = "auto";       // passed to the trainer
  bool echo = true;                  // copy children's output to stderr
  const std::atomic<bool>* stop = nullptr;  // set from a signal handler
};

struct SchedulerSummary {
  int started = 0, done = 0, failed = 0, interrupted = 0;
};

SchedulerSummary run_scheduler(const SchedulerOptions& opt);

// Describes a wait() status: "exit code 1", "killed by signal 9 (SIGKILL; out of memory?)".
std::string describe_exit(int wait_status);

}  // namespace scalelab::sweep
