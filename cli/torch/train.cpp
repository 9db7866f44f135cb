// scalelab train RUN_ID: trains one run in this process. The scheduler starts
// one of these per run; a user can also call it directly to train or resume one
// run by hand.
//
// Exit codes: 0 done, 1 failed (recorded in the database), 3 interrupted
// (checkpointed and returned to pending).
#include <fmt/format.h>
#include <signal.h>
#include <torch/torch.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "cli/command.h"
#include "db/db.h"
#include "train/trainer.h"

namespace scalelab::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop(int) { g_stop.store(true); }

struct TrainArgs {
  std::string run_id, worker, run_dir, device = "auto";
  int threads = 0;
  double checkpoint_every = 120;
  std::string cuda_graph = "on";
};

int train_one(const Context& ctx, const TrainArgs& a) {
  db::Database db(ctx.db);
  auto run = db.get_run(a.run_id);
  if (!run) throw InputError(ctx.db + ": no run with id '" + a.run_id + "'");
  std::string worker = a.worker;
  if (worker.empty()) {
    char h[256] = {0};
    ::gethostname(h, sizeof h - 1);
    worker = std::string(h) + ":" + std::to_string(::getpid());
    if (!db.claim_run(a.run_id, worker))
      throw InputError("run " + a.run_id + " is " + std::string(db::to_string(run->status)) +
                       (run->status == db::RunStatus::Running ? " by " + run->worker : "") +
                       "; nothing to train");
    run = db.get_run(a.run_id);
  } else if (run->status != db::RunStatus::Running || run->worker != worker) {
    throw std::runtime_error("run " + a.run_id + " is not held by worker " + worker);
  }
  if (a.threads > 0) at::set_num_threads(a.threads);
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  train::TrainOptions opt;
  opt.run_dir = a.run_dir.empty() ? "runs/" + a.run_id : a.run_dir;
  opt.device = a.device;
  opt.checkpoint_every_s = a.checkpoint_every;
  opt.stop = &g_stop;
  // SCALELAB_CUDA_GRAPH=off reaches the runs a scheduler starts.
  const char* env_graph = std::getenv("SCALELAB_CUDA_GRAPH");
  opt.cuda_graph = a.cuda_graph == "on" && !(env_graph && std::string(env_graph) == "off");
  train::TrainResult res;
  try {
    res = train::train_run(db, *run, opt);
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find("\nException raised from"));
    db.fail_run(a.run_id, what);
    fmt::print(stderr, "[{}] failed: {}\n", a.run_id, what);
    return 1;
  }
  switch (res.outcome) {
    case train::Outcome::Done:
      db.finish_run(a.run_id, res.final_val_loss, res.env_json);
      fmt::print(stderr, "[{}] done: val loss {:.4f}, {:.0f} tok/s\n", a.run_id,
                 res.final_val_loss, res.tokens_per_s);
      return 0;
    case train::Outcome::Interrupted:
      db.release_run(a.run_id);
      fmt::print(stderr, "[{}] interrupted at step {}; checkpointed, back to pending\n", a.run_id,
                 res.steps_done);
      return 3;
    case train::Outcome::Failed:
      db.fail_run(a.run_id, res.error);
      fmt::print(stderr, "[{}] failed: {}\n", a.run_id, res.error);
      return 1;
  }
  return 1;
}

void add_train(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<TrainArgs>();
  auto* sub = app.add_subcommand("train", "Train (or resume) one run in this process");
  sub->group("");  // hidden: `scalelab run` starts it
  sub->add_option("run_id", a->run_id, "run id")->required();
  sub->add_option("--worker", a->worker, "worker that already holds the run (the scheduler)");
  sub->add_option("--run-dir", a->run_dir, "checkpoint/log folder (default runs/RUN_ID)");
  sub->add_option("--device", a->device, "auto | cpu | cuda | cuda:N")->capture_default_str();
  sub->add_option("--threads", a->threads, "torch intra-op threads (0: torch's default)");
  sub->add_option("--checkpoint-every", a->checkpoint_every, "seconds between checkpoints")
      ->capture_default_str();
  sub->add_option("--cuda-graph", a->cuda_graph,
                  "on | off: replay each step as a CUDA graph on a GPU (env SCALELAB_CUDA_GRAPH=off "
                  "turns it off for the runs a scheduler starts)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  sub->callback([&ctx, a] { ctx.rc = train_one(ctx, *a); });
}
SCALELAB_COMMAND(add_train);

}  // namespace
}  // namespace scalelab::cli
