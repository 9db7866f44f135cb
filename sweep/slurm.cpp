#include "sweep/slurm.h"

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "db/lineage.h"
#include "sweep/journal.h"

namespace scalelab::sweep {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct Output {
  int rc = -1;
  std::string text;  // stdout and stderr
};

Output capture(const std::vector<std::string>& args) {
  std::string cmd;
  for (const std::string& a : args) cmd += (cmd.empty() ? "" : " ") + quote(a);
  Output o;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return o;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) o.text.append(buf, n);
  const int st = ::pclose(p);
  o.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

// A run submitted as one array task.
struct Tracked {
  db::Lease lease;
  std::string job;  // "123_4"
  std::string dir;
  JournalReader journal;
  int missing = 0;  // polls in a row that squeue did not list it
};

class SlurmScheduler {
 public:
  SlurmScheduler(const SchedulerOptions& o, const SlurmOptions& s)
      : opt_(o), slurm_(s), db_(o.db_path), root_(fs::absolute(o.runs_root).string()) {
    holder_.process.host = "slurm";  // never judged by a local pid
    holder_.heartbeat_s = s.poll_s;
    claim_.stale_after_s = o.stale_after_s;
    claim_.max_retries = o.max_retries;
    claim_.filter = o.filter;
    fs::create_directories(root_ + "/.slurm");
  }

  SchedulerSummary run() {
    adopt();
    auto last_poll = Clock::time_point{}, last_stages = Clock::time_point{};
    while (true) {
      const bool stopping = opt_.stop && opt_.stop->load();
      for (auto it = tracked_.begin(); it != tracked_.end();)
        it = ingest(it->second) ? tracked_.erase(it) : std::next(it);
      if (Clock::now() - last_poll > std::chrono::duration<double>(slurm_.poll_s)) {
        poll();
        last_poll = Clock::now();
      }
      bool none = false;
      if (!stopping) {
        none = submit();
        if (none && opt_.open_stages &&
            (tracked_.empty() || Clock::now() - last_stages > std::chrono::seconds(2))) {
          last_stages = Clock::now();
          if (opt_.open_stages(db_) > 0) none = submit();
        }
      }
      if (stopping) {
        if (!tracked_.empty())
          std::cerr << "run: " << tracked_.size() << " Slurm tasks keep running; `scalelab run "
                    << "--backend slurm` again adopts them\n";
        break;
      }
      if (tracked_.empty() && none && !db_.next_backoff_s(opt_.filter)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return sum_;
  }

 private:
  std::string dir_of(const std::string& id) const { return root_ + "/" + id; }

  // Running runs held by Slurm tasks of this runs folder, from an earlier scheduler.
  void adopt() {
    db::RunFilter f = opt_.filter;
    f.status = db::RunStatus::Running;
    for (const db::Run& r : db_.list_runs(f)) {
      if (r.worker.rfind("slurm:", 0) != 0 || task_lease(dir_of(r.id)) != r.lease) continue;
      track({r.id, r.lease}, r.worker.substr(6));
      std::cerr << "run: adopted " << r.id << " (Slurm task " << r.worker.substr(6) << ")\n";
    }
  }

  void track(const db::Lease& l, const std::string& job) {
    Tracked t;
    t.lease = l;
    t.job = job;
    t.dir = dir_of(l.run_id);
    t.journal.path = journal_path(t.dir, l.token);
    tracked_[l.run_id] = std::move(t);
  }

  // Applies the new journal events of T. True when the run has ended (or is
  // no longer ours) and T can be dropped.
  bool ingest(Tracked& t) {
    try {
      for (const nlohmann::json& e : t.journal.read_new())
        if (apply(t, e)) return true;
    } catch (const db::LeaseLost& e) {
      ++sum_.lost;
      std::cerr << "run: " << e.what() << "\n";
      return true;
    } catch (const nlohmann::json::exception& e) {
      std::cerr << "run: " << t.journal.path << ": bad event ignored: " << e.what() << "\n";
    }
    return false;
  }

  bool apply(Tracked& t, const nlohmann::json& e) {
    const std::string kind = e.at("e");
    if (kind == "metrics") {
      std::vector<db::Metric> rows;
      for (const auto& m : e.at("rows")) rows.push_back(metric_from_json(t.lease.run_id, m));
      db_.log_metrics(t.lease, rows);
    } else if (kind == "perf") {
      db_.set_run_perf(t.lease, e.at("json").get<std::string>());
    } else if (kind == "beat" || kind == "start") {
      db_.heartbeat(t.lease);
    } else if (kind == "done") {
      db_.finish_run(t.lease, e.at("loss").get<double>(), e.at("env").get<std::string>());
      ++sum_.done;
      std::cerr << "run: " << t.lease.run_id << " done (Slurm task " << t.job << ")\n";
      return true;
    } else if (kind == "failed") {
      const bool diverged = e.value("diverged", false);
      db_.fail_run(t.lease, e.at("error").get<std::string>(), diverged);
      ++(diverged ? sum_.diverged : sum_.failed);
      return true;
    } else if (kind == "released") {
      db_.release_run(t.lease, "Slurm task " + t.job + ": " + e.value("why", std::string()));
      ++sum_.interrupted;
      std::cerr << "run: " << t.lease.run_id << " interrupted (Slurm task " << t.job
                << "); submitting it again\n";
      return true;
    } else if (kind == "retry") {
      retry(t, "Slurm task " + t.job + ": " + e.value("why", std::string()));
      return true;
    }
    return false;
  }

  void retry(const Tracked& t, const std::string& why) {
    if (db_.retry_later(t.lease, why, opt_.retry_backoff_s, opt_.max_retries)) {
      ++sum_.retried;
      std::cerr << "run: " << t.lease.run_id << ": " << why << "; retried after a backoff\n";
    } else {
      ++sum_.failed;
      std::cerr << "run: " << t.lease.run_id << ": " << why << "; out of retries, failed\n";
    }
  }

  // How Slurm says a job ended: sacct, or scontrol where accounting is off.
  static std::string final_state(const std::string& job) {
    Output a = capture({"sacct", "-n", "-P", "-X", "-j", job, "-o", "State"});
    if (a.rc == 0 && !a.text.empty() && a.text.find("disabled") == std::string::npos)
      return a.text.substr(0, a.text.find('\n'));
    Output c = capture({"scontrol", "show", "job", "-o", job});
    const size_t p = c.text.find("JobState=");
    if (c.rc == 0 && p != std::string::npos)
      return c.text.substr(p + 9, c.text.find(' ', p) - p - 9);
    return "gone from squeue";
  }

  // squeue: heartbeats for listed tasks; a task missing twice without a
  // result in its journal has ended badly and is retried.
  void poll() {
    if (tracked_.empty()) return;
    Output q = capture({"squeue", "-h", "-r", "-o", "%i|%T", "-n", kJobName});
    if (q.rc != 0) {
      std::cerr << "run: squeue failed (will retry): " << q.text;
      return;
    }
    std::set<std::string> listed;
    std::istringstream in(q.text);
    for (std::string line; std::getline(in, line);) listed.insert(line.substr(0, line.find('|')));
    for (auto it = tracked_.begin(); it != tracked_.end();) {
      Tracked& t = it->second;
      bool drop = false;
      try {
        if (listed.count(t.job)) {
          t.missing = 0;
          db_.heartbeat(t.lease);
        } else if (++t.missing >= 2 && !(drop = ingest(t))) {
          retry(t, "Slurm task " + t.job + " ended (" + final_state(t.job) + ") without a result");
          drop = true;
        }
      } catch (const db::LeaseLost& e) {
        ++sum_.lost;
        std::cerr << "run: " << e.what() << "\n";
        drop = true;
      }
      it = drop ? tracked_.erase(it) : std::next(it);
    }
  }

  // Claims what is claimable and submits it as one array. True when nothing was.
  bool submit() {
    std::vector<db::Run> batch;
    while (static_cast<int>(batch.size()) < slurm_.max_batch &&
           (opt_.max_runs == 0 || sum_.started + static_cast<int>(batch.size()) < opt_.max_runs)) {
      holder_.worker = "slurm:submitting";
      auto r = db_.claim_next_run(holder_, claim_);
      if (!r) break;
      batch.push_back(*r);
    }
    if (batch.empty()) return db::waiting_branches(db_, opt_.filter) == 0;  // WSD branches to come
    const std::string tag = std::to_string(std::time(nullptr)) + "-" + std::to_string(++batches_);
    const std::string manifest = root_ + "/.slurm/batch-" + tag + ".txt";
    {
      std::ofstream m(manifest);
      for (const db::Run& r : batch) {
        Task t;
        t.run = r;
        t.heartbeat_s = opt_.heartbeat_s;
        t.checkpoint_every_s = opt_.checkpoint_every_s;
        t.device = slurm_.gpus_per_task > 0 ? "cuda" : (opt_.device == "auto" ? "cpu" : opt_.device);
        t.threads = slurm_.cpus_per_task;
        write_task(dir_of(r.id), t);
        m << dir_of(r.id) << "\n";
      }
    }
    std::string job;
    try {
      job = sbatch(manifest, tag, batch.size());
    } catch (const std::runtime_error&) {
      for (const db::Run& r : batch) db_.release_run({r.id, r.lease}, "sbatch failed");
      throw;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      const db::Lease l{batch[i].id, batch[i].lease};
      const std::string task = job + "_" + std::to_string(i);
      try {
        db_.set_worker(l, "slurm:" + task);
        track(l, task);
        ++sum_.started;
      } catch (const db::LeaseLost&) {
        ++sum_.lost;
      }
    }
    std::cerr << "run: submitted " << batch.size() << " runs as Slurm array job " << job << "\n";
    return false;
  }

  std::string sbatch(const std::string& manifest, const std::string& tag, size_t n) {
    const std::string script = root_ + "/.slurm/batch-" + tag + ".sh";
    {
      std::ofstream s(script);
      // exec: the trainer is the batch shell, so --signal=B:USR1 and scancel reach it.
      s << "#!/bin/sh\nexec " << quote(opt_.self_exe) << " task --manifest " << quote(manifest)
        << " --index \"$SLURM_ARRAY_TASK_ID\"\n";
    }
    std::vector<std::string> args = {"sbatch", "--parsable", "--job-name", kJobName,
                                     "--array=0-" + std::to_string(n - 1) + "%" +
                                         std::to_string(std::max(1, slurm_.array_max)),
                                     "--output", root_ + "/.slurm/%A_%a.out",
                                     "--signal=B:USR1@120", "--chdir", fs::current_path().string()};
    if (!slurm_.partition.empty()) args.insert(args.end(), {"--partition", slurm_.partition});
    if (!slurm_.time.empty()) args.insert(args.end(), {"--time", slurm_.time});
    if (slurm_.gpus_per_task > 0) args.push_back("--gres=gpu:" + std::to_string(slurm_.gpus_per_task));
    if (slurm_.cpus_per_task > 0) args.push_back("--cpus-per-task=" + std::to_string(slurm_.cpus_per_task));
    args.insert(args.end(), slurm_.sbatch_args.begin(), slurm_.sbatch_args.end());
    args.push_back(script);
    Output o = capture(args);
    std::string id = o.text.substr(0, o.text.find_first_of(";\n"));
    if (o.rc != 0 || id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
      throw std::runtime_error("sbatch refused an array of " + std::to_string(n) +
                               " runs (they are pending again): " + o.text);
    return id;
  }

  static constexpr const char* kJobName = "scalelab";
  const SchedulerOptions& opt_;
  const SlurmOptions& slurm_;
  db::Database db_;
  std::string root_;
  db::Holder holder_;
  db::ClaimOptions claim_;
  std::map<std::string, Tracked> tracked_;
  SchedulerSummary sum_;
  int batches_ = 0;
};

}  // namespace

SchedulerSummary run_slurm(const SchedulerOptions& opt, const SlurmOptions& slurm) {
  check_options(opt);
  if (!(slurm.poll_s > 0)) throw std::invalid_argument("--poll must be positive");
  if (!(opt.stale_after_s > 3 * slurm.poll_s))
    throw std::invalid_argument("--stale-after must exceed 3 --poll intervals: the scheduler "
                                "heartbeats for queued Slurm tasks once a poll");
  for (const char* tool : {"sbatch", "squeue", "scontrol"})
    if (capture({"sh", "-c", std::string("command -v ") + tool}).rc != 0)
      throw std::invalid_argument(std::string("--backend slurm: '") + tool +
                                  "' not found; run on a Slurm login node");
  return SlurmScheduler(opt, slurm).run();
}

}  // namespace scalelab::sweep
