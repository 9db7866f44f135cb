// Trains one run from scratch (or resumes it from its checkpoint) and records
// everything in the database.
//
// Per step: lr from the schedule, a batch that is a function of (seed, step)
// (made ahead on a worker thread and copied to the GPU on a copy stream:
// train/prefetch.h), then one TrainStep (train/step.h): micro-batches with
// gradient accumulation, bf16 autocast on CUDA, the fused head + loss,
// backward, fused clipping + AdamW, the whole step replayed as a CUDA graph.
// The loop never waits for the GPU except at logging steps: each step's loss
// and gradient norm stay on the device until a metrics row is due (every
// log_every steps: mean train loss and gradient norm since the last row, lr,
// tokens/s); every eval interval and at the end the held-out loss on the same
// fixed validation windows for every run, so runs compare.
//
// Measured per run (runs.perf, JSON): tokens_per_s (steady state: the median
// of the logged intervals after the first), mfu (tokens_per_s x the planner's
// exact training FLOPs per token / the GPU's dense bf16 peak; "flop_convention"
// and "peak_flops" say which), peak_memory_bytes beside the planner's
// memory_estimate_bytes, startup_s (process start to the first step done) and
// startup_phases_s (when each start-up phase ended: before_trainer, data,
// model, optimizer, setup, first_step; seconds since process start),
// eval_s and checkpoint_s (time not spent training), micro_batch, accumulation,
// cuda_graph.
//
// Nothing is lost: the checkpoint is written atomically every
// checkpoint_every_s and when asked to stop (SIGINT/SIGTERM); a non-finite loss
// is recorded explicitly (as NaN) and fails the run with the step it happened at.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "db/db.h"
#include "models/spec/run_spec.h"
#include "train/distributed.h"

namespace scalelab::train {

struct TrainOptions {
  std::string run_dir;               // holds checkpoint.pt and model.pt; created if missing
  std::string device = "auto";       // auto (cuda if available) | cpu | cuda | cuda:N
  double checkpoint_every_s = 120;   // wall seconds between checkpoints
  double heartbeat_every_s = 10;
  int64_t log_every = 0;             // steps between metric rows; 0: ~100 rows per run
  int64_t micro_batch = 0;           // sequences per forward; 0: the run's planned one
                                     // (runs.micro_batch), else the whole batch
  bool cuda_graph = true;            // capture the step in a CUDA graph on a GPU
  bool progress = true;              // one progress line per log interval on stderr
  const std::atomic<bool>* stop = nullptr;  // set by a signal handler: checkpoint and return
  // Data parallel (train/distributed.h): this process is rank dist.rank of
  // dist.world, on cuda:LOCAL_RANK (device auto or cuda) or the CPU (gloo).
  // Each rank trains on its share of every global batch; only rank 0 writes
  // (metrics, checkpoints, weights), and every rank reads the same
  // checkpoint, so a run resumes on any number of processes that divides its
  // batch. Inactive: one process, no process group.
  DistEnv dist;
  int64_t bucket_bytes = 25 << 20;   // gradient all-reduce bucket (PyTorch DDP's default)
  std::chrono::seconds dist_timeout{300};  // joining, and any one collective
  // Called after every optimiser step with (steps done, that step's loss).
  std::function<void(int64_t, double)> on_step;
};

// Diverged: the training loss became non-finite (recorded as such, kept apart
// from failures: it says something about the run's hyperparameters).
enum class Outcome { Done, Failed, Interrupted, Diverged };

// Where the trainer reports metrics, heartbeats and its measurements. Each
// throws db::LeaseLost when the run was claimed by someone else: training
// stops at once, writing nothing more. The database form (under run.lease) is
// train_run's default; a job on another node writes its run folder's journal
// instead (sweep/journal.h).
struct Reporter {
  virtual ~Reporter() = default;
  virtual void metrics(const std::vector<db::Metric>& rows) = 0;
  virtual void heartbeat() = 0;
  virtual void perf(const std::string& perf_json) = 0;
  // The database itself when the trainer writes it directly (WSD branches
  // read and record their lineage there); nullptr for a journal.
  virtual db::Database* database() { return nullptr; }
};

struct TrainResult {
  Outcome outcome = Outcome::Failed;
  std::string error;        // why, when Failed
  int64_t steps_done = 0;
  double final_val_loss = 0;
  double tokens_per_s = 0;  // mean over this process's steps
  std::string env_json;     // code version, hardware, library versions, seed
  std::string perf_json;    // the measurements above (also stored as runs.perf)
};

// Trains RUN (already claimed as running by this process or its scheduler),
// logging metrics and heartbeats to DB under the lease run.lease (fenced: a
// db::LeaseLost stops it). Does not change the run's status: the caller
// records the outcome (finish_run / fail_run / release_run) with the same lease.
TrainResult train_run(db::Database& db, const db::Run& run, const TrainOptions& opt);
// The same, reporting to OUT.
TrainResult train_run(const db::Run& run, const TrainOptions& opt, Reporter& out);

}  // namespace scalelab::train
