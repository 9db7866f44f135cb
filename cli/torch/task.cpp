// scalelab task --manifest FILE --index I: one Slurm array task. Trains the
// run of the I-th folder listed in FILE from its task.json, reporting to the
// folder's journal (sweep/journal.h); it never opens the database.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/torch/train_common.h"
#include "sweep/journal.h"
#include "sweep/scheduler.h"

namespace scalelab::cli {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The Slurm job this task is, as squeue names it.
std::string slurm_task() {
  const std::string a = env("SLURM_ARRAY_JOB_ID"), i = env("SLURM_ARRAY_TASK_ID");
  return a.empty() ? env("SLURM_JOB_ID") : a + "_" + i;
}

struct JournalSink : RunSink {
  JournalSink(std::string d, int64_t l) : dir(std::move(d)), lease(l), out(sweep::journal_path(dir, l)) {}
  void metrics(const std::vector<db::Metric>& rows) override {
    nlohmann::json j = nlohmann::json::array();
    for (const db::Metric& m : rows) j.push_back(sweep::to_json(m));
    out.write({{"e", "metrics"}, {"rows", j}});
  }
  // The job-side fence: task.json names the current lease.
  void heartbeat() override {
    const int64_t now = sweep::task_lease(dir);
    if (now != lease)
      throw db::LeaseLost("lease " + std::to_string(lease) + " is no longer current (task.json names " +
                          std::to_string(now) + ")");
    out.write({{"e", "beat"}}, true);
  }
  void perf(const std::string& json) override { out.write({{"e", "perf"}, {"json", json}}); }
  void done(double loss, const std::string& env_json) override {
    heartbeat();
    nlohmann::json e = nlohmann::json::parse(env_json);
    e["slurm_job"] = slurm_task();
    e["slurm_node"] = env("SLURMD_NODENAME");
    out.write({{"e", "done"}, {"loss", loss}, {"env", e.dump()}}, true);
  }
  void failed(const std::string& error, bool diverged) override {
    out.write({{"e", "failed"}, {"error", error}, {"diverged", diverged}}, true);
  }
  void released(const std::string& why) override {
    out.write({{"e", "released"}, {"why", why}}, true);
  }
  std::string dir;
  int64_t lease;
  sweep::JournalWriter out;
};

std::string folder(const std::string& manifest, int index) {
  std::ifstream in(manifest);
  if (!in) throw InputError(manifest + ": cannot read the manifest");
  std::string line;
  for (int i = 0; std::getline(in, line); ++i)
    if (i == index) return line;
  throw InputError(manifest + ": no line " + std::to_string(index));
}

int run_task(const std::string& manifest, int index) {
  const std::string dir = folder(manifest, index);
  // The task's output joins the run's log, as a local run's does.
  if (!std::freopen((dir + "/train.log").c_str(), "a", stderr))
    throw std::runtime_error(dir + "/train.log: cannot open");
  std::setvbuf(stderr, nullptr, _IOLBF, 0);
  const sweep::Task t = sweep::read_task(dir);
  JournalSink sink(dir, t.run.lease);
  sink.out.write({{"e", "start"}, {"host", sweep::hostname()}, {"pid", ::getpid()},
                  {"job", slurm_task()}}, true);
  fmt::print(stderr, "[{}] Slurm task {} on {} (lease {})\n", t.run.id, slurm_task(),
             sweep::hostname(), t.run.lease);
  TrainArgs a;
  a.run_id = t.run.id;
  a.run_dir = dir;
  a.device = t.device;
  a.threads = t.threads;
  a.micro_batch = t.micro_batch;
  a.checkpoint_every = t.checkpoint_every_s;
  a.heartbeat_every = t.heartbeat_s;
  const int rc = train_with(t.run, a, sink, true);
  if (rc == sweep::kTrainRetry) sink.out.write({{"e", "retry"}, {"why", "out of memory"}}, true);
  return rc;
}

void add_task(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("task", "Train one run of a Slurm array from its run folder");
  sub->group("");  // hidden: the Slurm backend submits it
  auto manifest = std::make_shared<std::string>();
  auto index = std::make_shared<int>(0);
  sub->add_option("--manifest", *manifest, "file listing one run folder a line")->required();
  sub->add_option("--index", *index, "line of the manifest ($SLURM_ARRAY_TASK_ID)")->required();
  sub->callback([&ctx, manifest, index] {
    const int rc = run_task(*manifest, *index);
    std::fflush(nullptr);
    std::_Exit(rc);  // as `scalelab train`: skip LibTorch's slow static destructors
  });
}
SCALELAB_COMMAND(add_task);

}  // namespace
}  // namespace scalelab::cli
