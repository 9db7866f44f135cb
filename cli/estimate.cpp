#include "cli/estimate.h"

#include <fmt/format.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "sweep/scheduler.h"

namespace scalelab::cli {
namespace {

// No CPU trains a language model slower than this: below it, no sweep could
// exceed the threshold and no calibration is worth its seconds.
constexpr double kSlowestCpu = 1e9;

std::string duration(double h) {
  if (h < 1) return fmt::format("{:.0f} min", std::max(1.0, h * 60));
  if (h < 48) return fmt::format("{:.1f} h", h);
  return fmt::format("{:.1f} days", h / 24);
}

// Runs `scalelab calibrate`, which stores this machine's CPU rate.
void calibrate(const Context& ctx, int slots) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const std::string cmd = "'" + ctx.self + "' --db '" + ctx.db + "' calibrate --threads " +
                          std::to_string(std::max(1, cores / slots)) + " >/dev/null 2>&1";
  const int st = std::system(cmd.c_str());
  (void)st;  // a build without LibTorch has no calibrate; the estimate then says unknown
}

}  // namespace

void confirm_time(const Context& ctx, db::Database& db, const db::RunFilter& f, int slots,
                  bool cpu, double confirm_hours, bool yes) {
  Estimate e;
  for (const db::StageCount& c : db.stage_counts()) {
    if ((f.sweep && c.sweep != *f.sweep) || (f.stage && c.stage != *f.stage) ||
        (f.arch && c.arch != *f.arch))
      continue;
    if (c.status != db::RunStatus::Pending && c.status != db::RunStatus::Running) continue;
    e.runs += c.n;
    e.flops += c.flops;
  }
  if (e.runs == 0) return;
  const double par = std::min<double>(slots, static_cast<double>(e.runs));
  const std::string host = sweep::hostname(), device = cpu ? "cpu" : "gpu";
  std::optional<double> speed = db.speed(host, device);
  const bool could_be_long = e.flops / (kSlowestCpu * par) / 3600 >= confirm_hours;
  if (!speed && cpu && could_be_long && !yes) {
    calibrate(ctx, static_cast<int>(par));
    speed = db.speed(host, device);
  }
  if (!speed || *speed <= 0) return;  // nothing measured here: nothing to say
  e.flops_per_s = *speed;
  e.hours = e.flops / (e.flops_per_s * par) / 3600;
  const std::string msg = fmt::format(
      "{} runs ({:.2e} FLOPs) would take about {} on this {} ({} at a time, {:.3g} GFLOP/s "
      "each, measured here)",
      e.runs, e.flops, duration(e.hours), cpu ? "CPU" : "machine's GPUs", static_cast<int>(par),
      e.flops_per_s / 1e9);
  if (cpu && !yes && e.hours >= confirm_hours)
    throw InputError("run: " + msg + "; pass --yes to start anyway, or train on GPUs (--gpus)");
  if (!ctx.quiet) std::cerr << "run: " << msg << "\n";
}

}  // namespace scalelab::cli
