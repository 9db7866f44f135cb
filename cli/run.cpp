// scalelab run: the scheduler (sweep/scheduler.h, sweep/slurm.h); needs no
// LibTorch itself. Before claiming anything it checks the database
// (PRAGMA quick_check), the filters, the GPUs named, and on a CPU how long
// the runs would take.
#include <signal.h>

#include <atomic>
#include <iostream>

#include "cli/command.h"
#include "cli/estimate.h"
#include "cli/stage_gates.h"
#include "sweep/devices.h"
#include "sweep/scheduler.h"
#include "sweep/slurm.h"

namespace scalelab::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

struct RunArgs {
  sweep::SchedulerOptions opt;
  sweep::SlurmOptions slurm;
  std::string backend = "local", sweep, stage, arch;
  std::vector<double> gpu_memory_gb;
  double confirm_hours = 1;
  bool yes = false;
};

void add_options(CLI::App* sub, RunArgs& a) {
  auto& o = a.opt;
  sub->add_option("--backend", a.backend, "local | slurm")
      ->check(CLI::IsMember({"local", "slurm"}))->capture_default_str();
  sub->add_option("--workers,-j", o.workers, "CPU runs at a time (ignored with --gpus)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--gpus", o.gpus, "GPU ids (e.g. --gpus 0,1,2,3)")->delimiter(',');
  sub->add_option("--runs-per-gpu", o.runs_per_gpu,
                  "runs sharing one GPU while their memory estimates fit")->capture_default_str();
  sub->add_option("--gpu-memory", a.gpu_memory_gb,
                  "GB per GPU for packing (default: what nvidia-smi reports)")->delimiter(',');
  sub->add_option("--data-parallel-above", o.data_parallel_above,
                  "a run whose memory estimate exceeds this fraction of a GPU trains data-parallel "
                  "on the idle GPUs of --gpus (0: never)")->capture_default_str();
  sub->add_option("--data-parallel-gpus", o.data_parallel_gpus,
                  "most GPUs one data-parallel run takes (0: all of --gpus)")->capture_default_str();
  sub->add_option("--threads", o.threads_per_worker, "torch threads per CPU run (0: auto)");
  sub->add_option("--runs-dir", o.runs_root, "folder for checkpoints, logs and weights (shared "
                  "storage with --backend slurm)")->capture_default_str();
  sub->add_option("--max-runs", o.max_runs, "stop after starting this many runs (0: all)");
  sub->add_option("--heartbeat-every", o.heartbeat_s, "seconds between a run's heartbeats")
      ->capture_default_str();
  sub->add_option("--stale-after", o.stale_after_s,
                  "seconds without a heartbeat before a run on another host is reclaimed "
                  "(> 3 heartbeats; dead processes on this host are reclaimed at once)")
      ->capture_default_str();
  sub->add_option("--checkpoint-every", o.checkpoint_every_s, "seconds between checkpoints")
      ->capture_default_str();
  sub->add_option("--max-retries", o.max_retries,
                  "automatic retries of a run killed by the OOM killer or a lost node")
      ->capture_default_str();
  sub->add_option("--retry-backoff", o.retry_backoff_s,
                  "seconds before the first automatic retry (doubling after)")->capture_default_str();
  sub->add_option("--device", o.device, "auto | cpu | cuda")->capture_default_str();
  sub->add_option("--sweep", a.sweep, "only runs of this sweep");
  sub->add_option("--stage", a.stage, "only runs of this stage");
  sub->add_option("--arch", a.arch, "only runs of this architecture");
  sub->add_flag("--yes,-y", a.yes, "start even when the CPU estimate exceeds --confirm-above");
  sub->add_option("--confirm-above", a.confirm_hours,
                  "hours of estimated CPU training above which --yes is needed")->capture_default_str();
  auto& s = a.slurm;
  sub->add_option("--partition", s.partition, "Slurm partition")->group("Slurm");
  sub->add_option("--gpus-per-task", s.gpus_per_task, "GPUs per Slurm task")->group("Slurm");
  sub->add_option("--cpus-per-task", s.cpus_per_task, "CPUs per Slurm task")->group("Slurm");
  sub->add_option("--array-max", s.array_max, "Slurm array tasks running at once")
      ->group("Slurm")->capture_default_str();
  sub->add_option("--time", s.time, "Slurm time limit per task (e.g. 4:00:00)")->group("Slurm");
  sub->add_option("--poll", s.poll_s, "seconds between squeue polls")->group("Slurm")
      ->capture_default_str();
}

// Everything that can be wrong before a run is claimed; InputError (exit 2).
void check(const Context& ctx, RunArgs& a, db::Database& db) {
  auto& o = a.opt;
  if (!a.sweep.empty()) o.filter.sweep = a.sweep;
  if (!a.stage.empty()) o.filter.stage = a.stage;
  if (!a.arch.empty()) o.filter.arch = a.arch;
  try {
    sweep::check_options(o);
  } catch (const std::invalid_argument& e) {
    throw InputError(e.what());
  }
  const std::string health = db.quick_check();
  if (health != "ok")
    throw InputError("database " + ctx.db + " fails PRAGMA quick_check; nothing was claimed:\n" +
                     health + "\n(restore a backup, or try `sqlite3 " + ctx.db + " .recover`)");
  check_filter(db, o.filter);
  if (a.backend == "local" && !o.gpus.empty()) {
    try {
      const auto gpus = sweep::check_gpus(o.gpus, sweep::visible_gpus());
      if (!a.gpu_memory_gb.empty() && a.gpu_memory_gb.size() != gpus.size())
        throw InputError("--gpu-memory: give one size, or one per GPU of --gpus");
      for (size_t i = 0; i < gpus.size(); ++i)
        o.gpu_memory.push_back(a.gpu_memory_gb.empty() ? gpus[i].memory
                                                       : 1e9 * a.gpu_memory_gb[i]);
    } catch (const std::invalid_argument& e) {
      throw InputError(e.what());
    }
  }
}

int run(const Context& ctx, RunArgs& a) {
  auto dbp = open_existing(ctx, db::OpenMode::ReadWrite);
  check(ctx, a, *dbp);
  auto& o = a.opt;
  if (a.backend == "local") {
    const bool cpu = o.gpus.empty() && o.device != "cuda";
    const int slots = o.gpus.empty() ? o.workers : static_cast<int>(o.gpus.size()) * o.runs_per_gpu;
    confirm_time(ctx, *dbp, o.filter, slots, cpu, a.confirm_hours, a.yes);
  }
  dbp.reset();
  o.db_path = ctx.db;
  o.self_exe = ctx.self;
  o.echo = ctx.quiet == 0;
  o.open_stages = open_stages_by_gates;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  o.stop = &g_stop;
  sweep::SchedulerSummary s;
  try {
    s = a.backend == "slurm" ? sweep::run_slurm(o, a.slurm) : sweep::run_scheduler(o);
  } catch (const std::invalid_argument& e) {
    throw InputError(e.what());
  }
  std::cerr << "run: " << s.started << " started, " << s.done << " done, " << s.failed
            << " failed, " << s.diverged << " diverged, " << s.interrupted
            << " interrupted (resumable), " << s.retried << " retried later, " << s.reclaimed
            << " reclaimed, " << s.lost << " lost to another worker\n";
  if (g_stop.load()) return kExitInterrupted;
  return s.failed > 0 ? kExitFailure : kExitOk;
}

void add_run(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<RunArgs>();
  auto* sub = app.add_subcommand("run", "Train pending runs, each in its own process");
  add_options(sub, *a);
  sub->callback([&ctx, a] { ctx.rc = run(ctx, *a); });
}
SCALELAB_COMMAND(add_run);

}  // namespace
}  // namespace scalelab::cli
