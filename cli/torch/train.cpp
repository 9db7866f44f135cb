// scalelab train RUN_ID: trains one run in this process. The scheduler starts
// one of these per run (with the lease it claimed); a user can also call it
// directly to train or resume one run by hand (it then claims the run).
//
// Exit codes (sweep/scheduler.h): 0 done, 1 failed or diverged (recorded),
// 2 bad input, 3 interrupted (checkpointed, back to pending), 4 out of memory
// (left for the scheduler to retry), 5 lease lost (another worker holds the
// run; nothing was written).
#include <fmt/format.h>
#include <signal.h>
#include <torch/torch.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "cli/command.h"
#include "cli/torch/train_common.h"
#include "db/db.h"
#include "sweep/scheduler.h"

namespace scalelab::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop(int) { g_stop.store(true); }

bool out_of_memory(const std::string& what) {
  return what.find("out of memory") != std::string::npos ||
         what.find("can't allocate memory") != std::string::npos ||
         what.find("std::bad_alloc") != std::string::npos;
}

// A data-parallel rank other than 0: rank 0 records everything; this one
// only reads (a WSD branch's lineage).
struct ReaderSink : RunSink {
  explicit ReaderSink(db::Database& d) : db(d) {}
  void metrics(const std::vector<db::Metric>&) override {}
  void heartbeat() override {}
  void perf(const std::string&) override {}
  void done(double, const std::string&) override {}
  void failed(const std::string&, bool) override {}
  void released(const std::string&) override {}
  db::Database* database() override { return &db; }
  db::Database& db;
};

struct DbSink : RunSink {
  DbSink(db::Database& d, db::Lease l) : db(d), lease(std::move(l)) {}
  void metrics(const std::vector<db::Metric>& rows) override { db.log_metrics(lease, rows); }
  void heartbeat() override { db.heartbeat(lease); }
  void perf(const std::string& json) override { db.set_run_perf(lease, json); }
  void done(double loss, const std::string& env) override { db.finish_run(lease, loss, env); }
  void failed(const std::string& error, bool diverged) override {
    db.fail_run(lease, error, diverged);
  }
  void released(const std::string& why) override { db.release_run(lease, why); }
  db::Database* database() override { return &db; }  // WSD lineage lives there
  db::Database& db;
  db::Lease lease;
};

int record(const db::Run& run, const train::TrainResult& res, RunSink& sink) {
  switch (res.outcome) {
    case train::Outcome::Done:
      sink.done(res.final_val_loss, res.env_json);
      fmt::print(stderr, "[{}] done: val loss {:.4f}, {:.0f} tok/s\n", run.id, res.final_val_loss,
                 res.tokens_per_s);
      return sweep::kTrainDone;
    case train::Outcome::Interrupted:
      sink.released("interrupted at step " + std::to_string(res.steps_done));
      fmt::print(stderr, "[{}] interrupted at step {}; checkpointed, back to pending\n", run.id,
                 res.steps_done);
      return sweep::kTrainInterrupted;
    case train::Outcome::Diverged:
    case train::Outcome::Failed:
      sink.failed(res.error, res.outcome == train::Outcome::Diverged);
      fmt::print(stderr, "[{}] {}: {}\n", run.id,
                 res.outcome == train::Outcome::Diverged ? "diverged" : "failed", res.error);
      return sweep::kTrainFailed;
  }
  return sweep::kTrainFailed;
}

}  // namespace

int train_with(const db::Run& run, const TrainArgs& a, RunSink& sink, bool scheduled) {
  if (a.threads > 0) at::set_num_threads(a.threads);
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);  // Slurm's warning before preemption or the time limit

  train::TrainOptions opt;
  opt.run_dir = a.run_dir.empty() ? "runs/" + run.id : a.run_dir;
  opt.device = a.device;
  opt.checkpoint_every_s = a.checkpoint_every;
  opt.heartbeat_every_s = a.heartbeat_every;
  opt.micro_batch = a.micro_batch;
  opt.stop = &g_stop;
  opt.dist = a.dist;
  opt.bucket_bytes = static_cast<int64_t>(a.bucket_mb * (1 << 20));
  // SCALELAB_CUDA_GRAPH=off reaches the runs a scheduler starts.
  const char* env_graph = std::getenv("SCALELAB_CUDA_GRAPH");
  opt.cuda_graph = a.cuda_graph == "on" && !(env_graph && std::string(env_graph) == "off");
  try {
    train::TrainResult res;
    try {
      res = train::train_run(run, opt, sink);
    } catch (const db::LeaseLost&) {
      throw;
    } catch (const std::exception& e) {
      // LibTorch appends its C++ backtrace to what(); the run's record keeps the message.
      const std::string what = without_backtrace(e.what());
      if (scheduled && out_of_memory(what)) {
        fmt::print(stderr, "[{}] out of memory: {}\n", run.id, what);
        return sweep::kTrainRetry;
      }
      sink.failed(what, false);
      fmt::print(stderr, "[{}] failed: {}\n", run.id, what);
      return sweep::kTrainFailed;
    }
    return record(run, res, sink);
  } catch (const db::LeaseLost& e) {
    fmt::print(stderr, "[{}] stopped: {}; nothing more was written\n", run.id, e.what());
    return sweep::kTrainLeaseLost;
  }
}

namespace {

int train_one(const Context& ctx, TrainArgs a) {
  try {
    a.dist = train::dist_env_from_environment();
  } catch (const std::invalid_argument& e) {
    throw InputError(std::string("data parallel: ") + e.what());
  }
  if (a.bucket_mb <= 0) throw InputError("--bucket-mb must be positive");
  auto dbp = open_existing(ctx, db::OpenMode::ReadWrite);
  db::Database& db = *dbp;
  auto run = db.get_run(a.run_id);
  if (!run) throw InputError(ctx.db + ": no run with id '" + a.run_id + "'");
  // Rank 0 holds the lease (claimed here, or by the scheduler) and writes.
  if (a.dist.active && a.dist.rank != 0) {
    ReaderSink sink(db);
    return train_with(*run, a, sink, !a.worker.empty());
  }
  db::Lease lease{a.run_id, a.lease};
  if (a.worker.empty()) {
    auto l = db.claim_run(a.run_id, sweep::hostname() + ":" + std::to_string(::getpid()));
    if (!l)
      throw InputError("run " + a.run_id + " is " + std::string(db::to_string(run->status)) +
                       (run->status == db::RunStatus::Running ? " by " + run->worker : "") +
                       "; nothing to train");
    lease = *l;
  } else if (a.lease <= 0) {
    throw InputError("--worker needs the --lease the worker claimed");
  }
  try {
    db.attach(lease, db::this_process());
  } catch (const db::LeaseLost& e) {
    fmt::print(stderr, "[{}] not started: {}\n", a.run_id, e.what());
    return sweep::kTrainLeaseLost;
  }
  run = db.get_run(a.run_id);
  DbSink sink(db, lease);
  return train_with(*run, a, sink, !a.worker.empty());
}

void add_train(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<TrainArgs>();
  auto* sub = app.add_subcommand("train", "Train (or resume) one run in this process");
  sub->group("");  // hidden: `scalelab run` starts it
  sub->add_option("run_id", a->run_id, "run id")->required();
  sub->add_option("--worker", a->worker, "worker that already holds the run (the scheduler)");
  sub->add_option("--lease", a->lease, "the lease (fencing token) the worker claimed");
  sub->add_option("--run-dir", a->run_dir, "checkpoint/log folder (default runs/RUN_ID)");
  sub->add_option("--device", a->device, "auto | cpu | cuda | cuda:N")->capture_default_str();
  sub->add_option("--threads", a->threads, "torch intra-op threads (0: torch's default)");
  sub->add_option("--micro-batch", a->micro_batch, "sequences per forward (0: the whole batch)");
  sub->add_option("--checkpoint-every", a->checkpoint_every, "seconds between checkpoints")
      ->capture_default_str();
  sub->add_option("--heartbeat-every", a->heartbeat_every, "seconds between heartbeats")
      ->capture_default_str();
  sub->add_option("--cuda-graph", a->cuda_graph,
                  "on | off: replay each step as a CUDA graph on a GPU (env SCALELAB_CUDA_GRAPH=off "
                  "turns it off for the runs a scheduler starts)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  sub->add_option("--bucket-mb", a->bucket_mb,
                  "MiB per gradient all-reduce bucket of a data-parallel run (torchrun's RANK, "
                  "WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT make one)")
      ->capture_default_str();
  sub->callback([&ctx, a] {
    // Everything is recorded and closed here; LibTorch's static destructors
    // would take another 0.25 s a run (measured), which a sweep of thousands
    // of small runs pays over and over.
    const int rc = train_one(ctx, *a);
    std::fflush(nullptr);
    std::_Exit(rc);
  });
}
SCALELAB_COMMAND(add_train);

}  // namespace
}  // namespace scalelab::cli
