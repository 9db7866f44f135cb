// The Slurm backend of `scalelab run --backend slurm`: the distributed engine
// when one machine is not enough.
//
// The scheduler runs on a login node beside the database. It claims runs,
// writes each one's run folder on shared storage (sweep/journal.h), and
// submits them as job arrays (sbatch --array=0-N%array_max); each task runs
// `scalelab task`, which trains from the run folder and appends its journal.
// Jobs never open the database: the scheduler ingests the journals under the
// runs' leases, tracks the jobs with squeue (and sacct, or scontrol where
// accounting is off), and heartbeats for queued ones.
//
// Preemption: jobs are submitted with --signal=B:USR1@120; the trainer takes
// USR1 (or scancel's SIGTERM) as "checkpoint now and stop", journals
// `released`, and the scheduler submits the run again; it resumes from the
// checkpoint in its folder. A job that vanishes without a result (node lost,
// killed) is retried after a backoff, at most max_retries times.
//
// Restarting the scheduler loses nothing: running runs whose worker is a
// Slurm task of this runs folder are adopted (their journals ingested from the
// start; metric rows are upserts) instead of being reclaimed.
#pragma once

#include <string>
#include <vector>

#include "sweep/scheduler.h"

namespace scalelab::sweep {

struct SlurmOptions {
  std::string partition;            // "" = the cluster's default
  std::string time;                 // per task, e.g. "4:00:00"; "" = the partition's
  int gpus_per_task = 0;            // --gres=gpu:N; 0 trains on CPUs
  int cpus_per_task = 0;            // 0 = Slurm's default
  int array_max = 8;                // array tasks running at once (%K)
  double poll_s = 5;                // seconds between squeue polls (and lease heartbeats)
  int max_batch = 1000;             // runs per submitted array
  std::vector<std::string> sbatch_args;  // anything else for sbatch
};

// Throws std::invalid_argument when sbatch/squeue are missing or the options
// cannot work, std::runtime_error when sbatch refuses a submission.
SchedulerSummary run_slurm(const SchedulerOptions& opt, const SlurmOptions& slurm);

}  // namespace scalelab::sweep
