// What `scalelab train` (a run from the database) and `scalelab task` (a Slurm
// array task, from its run folder) share: signals, options, and what each
// outcome means. Each records results through a RunSink: the database under
// the run's lease, or the run folder's journal.
#pragma once

#include <string>

#include "db/db.h"
#include "train/trainer.h"

namespace scalelab::cli {

struct TrainArgs {
  std::string run_id, worker, run_dir, device = "auto";
  int64_t lease = 0;
  int threads = 0;
  int64_t micro_batch = 0;
  double checkpoint_every = 120, heartbeat_every = 10;
  std::string cuda_graph = "on";
  double bucket_mb = 25;  // gradient all-reduce buckets of a data-parallel run
  train::DistEnv dist;    // from torchrun's variables (train/distributed.h)
};

// Reporter plus the three ends of a run. Every call throws db::LeaseLost when
// the run is no longer ours.
struct RunSink : train::Reporter {
  virtual void done(double final_val_loss, const std::string& env_json) = 0;
  virtual void failed(const std::string& error, bool diverged) = 0;
  virtual void released(const std::string& why) = 0;
};

// Trains RUN, recording the outcome in SINK; returns the exit code
// (sweep/scheduler.h: kTrainDone, kTrainFailed, ...). With SCHEDULED, an
// out-of-memory error is left to the scheduler to retry (kTrainRetry).
int train_with(const db::Run& run, const TrainArgs& a, RunSink& sink, bool scheduled);

}  // namespace scalelab::cli
