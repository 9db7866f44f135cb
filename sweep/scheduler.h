// The local scheduler behind `scalelab run`: claims runs from the database and
// trains each in its own process (`scalelab train RUN_ID --lease N`), so an
// out-of-memory error, a NaN or a segfault in one run never takes the sweep
// down, and the scheduler itself needs no LibTorch.
//
// Slots: `workers` CPU slots, or `runs_per_gpu` slots on each GPU of `gpus`
// (the child sees only its GPU through CUDA_VISIBLE_DEVICES); runs share a GPU
// only while the planner's memory estimates of the runs on it add up to its
// memory. Each child's output goes to RUNS_ROOT/<run id>/train.log and is
// echoed here.
//
// Data parallel: with two or more GPUs, a run whose memory estimate exceeds
// data_parallel_above x a GPU's memory (it could share a GPU with nothing
// much anyway) trains on several idle GPUs at once, one process per GPU
// (torchrun's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT;
// CUDA_VISIBLE_DEVICES lists the run's GPUs): as many as are idle, up to
// data_parallel_gpus, that divide its batch; with fewer than two idle it
// trains on one GPU like any run. Rank 0 holds the lease and records the run
// (train.log; rank k logs to train.rank<k>.log); a rank that dies takes the
// others down and fails the run with its exit status and last lines.
//
// Every claim is a lease with a fencing token (db/db.h): the child attaches
// to it and every heartbeat, metric and result carries it, so a child whose
// run was claimed again (its lease expired) cannot write anything more.
//
// What survives what:
//   child exits 0            the child marked its run done
//   child exits 3            interrupted, checkpointed, back to pending
//   child killed (SIGKILL: the OOM killer) or out of memory
//                            retried after a backoff, at most max_retries times
//   child crashes otherwise  the run is failed with the exit status and the
//                            log's last lines (`scalelab status` shows them)
//   loss turns NaN           the run is `diverged` (not retried, not fitted)
//   scheduler gets SIGINT/SIGTERM  children checkpoint and requeue; nothing new
//                            is claimed
//   scheduler killed -9      its children train on and finish their runs
//   trainer and scheduler killed   the next scheduler on this host sees the
//                            holders' pids are gone and reclaims the runs at
//                            once; on another host, after stale_after_s
// A second scheduler on the same database is safe: claims are atomic and fenced.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "db/db.h"

namespace scalelab::sweep {

// Exit codes of `scalelab train`, as the scheduler reads them.
inline constexpr int kTrainDone = 0;
inline constexpr int kTrainFailed = 1;       // recorded in the database (failed or diverged)
inline constexpr int kTrainBadInput = 2;
inline constexpr int kTrainInterrupted = 3;  // checkpointed, released to pending
inline constexpr int kTrainRetry = 4;        // out of memory: not the run's fault, retry later
inline constexpr int kTrainLeaseLost = 5;    // someone else holds the run now; nothing written

struct SchedulerOptions {
  std::string db_path;
  std::string self_exe;              // the scalelab binary to start children from
  std::string runs_root = "runs";    // run folders: checkpoints, logs, weights
  int workers = 1;                   // CPU slots when gpus is empty
  std::vector<std::string> gpus;     // CUDA device ids
  int runs_per_gpu = 1;              // runs sharing one GPU, memory permitting
  std::vector<double> gpu_memory;    // bytes of each GPU in `gpus`
  double data_parallel_above = 0.5;  // fraction of a GPU's memory; 0: never data parallel
  int data_parallel_gpus = 0;        // most GPUs per data-parallel run; 0: all of `gpus`
  int threads_per_worker = 0;        // torch intra-op threads per child; 0: cores / slots
  double heartbeat_s = 10;           // children's heartbeat interval
  double stale_after_s = 600;        // a running run with an older heartbeat is reclaimed
  double checkpoint_every_s = 120;
  int max_retries = 3;               // automatic retries of a run (OOM, lost node)
  double retry_backoff_s = 30;       // first retry waits this, then doubling
  int max_runs = 0;                  // stop claiming after this many; 0: no limit
  db::RunFilter filter;              // sweep / stage / arch to restrict claims to
  std::string device = "auto";       // passed to the trainer
  bool echo = true;                  // children's output and "starting" lines to stderr (-q: off)
  const std::atomic<bool>* stop = nullptr;  // set from a signal handler
  // Called when nothing is claimable (every few seconds while runs train, at
  // once when none do): decides the stages whose predecessors finished, by
  // their gates (cli/stage_gates.h). Returns the number it opened.
  std::function<int(db::Database&)> open_stages;
};

struct SchedulerSummary {
  int started = 0, done = 0, failed = 0, diverged = 0, interrupted = 0, retried = 0, lost = 0,
      reclaimed = 0;
};

// Throws std::invalid_argument for options that cannot work (see check_options).
SchedulerSummary run_scheduler(const SchedulerOptions& opt);
// --stale-after must exceed 3 heartbeat intervals, and so on; throws
// std::invalid_argument naming the option.
void check_options(const SchedulerOptions& opt);

// The data-parallel rule above, for GPUS (each one's memory and runs on it
// now): the idle GPUs, FIRST first, that a run of MEMORY bytes (the planner's
// estimate) and BATCH sequences trains on; fewer than two: not data parallel.
struct GpuLoad {
  double capacity = 0;  // bytes; 0: unknown
  int runs = 0;
};
std::vector<int> data_parallel_group(const std::vector<GpuLoad>& gpus, int first, double memory,
                                     int64_t batch, double above, int most_gpus);

// Describes a wait() status: "exit code 1", "killed by signal 9 (SIGKILL; out of memory?)".
std::string describe_exit(int wait_status);
// The last N lines of a file.
std::string tail_lines(const std::string& path, size_t n);
std::string hostname();

}  // namespace scalelab::sweep
