// scalelab run: the scheduler (sweep/scheduler.h); needs no LibTorch itself.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <iostream>

#include "cli/command.h"
#include "sweep/scheduler.h"

namespace scalelab::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

std::string self_path() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("run: cannot find the scalelab executable");
  return std::string(buf, static_cast<size_t>(n));
}

void add_run(CLI::App& app, Context& ctx) {
  auto opt = std::make_shared<sweep::SchedulerOptions>();
  auto* sub = app.add_subcommand("run", "Train pending runs, each in its own process");
  sub->add_option("--workers,-j", opt->workers, "CPU runs at a time (ignored with --gpus)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--gpus", opt->gpus, "GPU ids, one run per GPU (e.g. --gpus 0,1,2,3)")
      ->delimiter(',');
  sub->add_option("--threads", opt->threads_per_worker, "torch threads per CPU run (0: auto)");
  sub->add_option("--runs-dir", opt->runs_root, "folder for checkpoints, logs and weights")
      ->capture_default_str();
  sub->add_option("--max-runs", opt->max_runs, "stop after starting this many runs (0: all)");
  sub->add_option("--stale-after", opt->stale_after_s,
                  "seconds without a heartbeat before a running run is reclaimed")
      ->capture_default_str();
  sub->add_option("--device", opt->device, "auto | cpu | cuda")->capture_default_str();
  auto sweep_f = std::make_shared<std::string>(), stage_f = std::make_shared<std::string>(),
       arch_f = std::make_shared<std::string>();
  sub->add_option("--sweep", *sweep_f, "only runs of this sweep");
  sub->add_option("--stage", *stage_f, "only runs of this stage");
  sub->add_option("--arch", *arch_f, "only runs of this architecture");
  sub->callback([&ctx, opt, sweep_f, stage_f, arch_f] {
    opt->db_path = ctx.db;
    opt->self_exe = self_path();
    if (!sweep_f->empty()) opt->filter.sweep = *sweep_f;
    if (!stage_f->empty()) opt->filter.stage = *stage_f;
    if (!arch_f->empty()) opt->filter.arch = *arch_f;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    opt->stop = &g_stop;
    const auto s = sweep::run_scheduler(*opt);
    std::cerr << "run: " << s.started << " started, " << s.done << " done, " << s.failed
              << " failed, " << s.interrupted << " interrupted (resumable)\n";
    ctx.rc = g_stop.load() ? 130 : (s.failed > 0 ? 1 : 0);
  });
}
SCALELAB_COMMAND(add_run);

}  // namespace
}  // namespace scalelab::cli
