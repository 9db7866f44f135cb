#include "sweep/scheduler.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "db/lineage.h"
#include "models/spec/run_spec.h"
#include "sweep/child.h"

namespace scalelab::sweep {

void check_options(const SchedulerOptions& o) {
  if (!(o.heartbeat_s > 0)) throw std::invalid_argument("--heartbeat-every must be positive");
  if (!(o.stale_after_s > 3 * o.heartbeat_s))
    throw std::invalid_argument(
        "--stale-after " + std::to_string(o.stale_after_s) + " must exceed 3 heartbeat intervals (" +
        std::to_string(3 * o.heartbeat_s) +
        " s): a run whose heartbeat is merely late would be trained twice");
  if (o.runs_per_gpu < 1) throw std::invalid_argument("--runs-per-gpu must be at least 1");
  if (o.runs_per_gpu > 1 && o.gpus.empty())
    throw std::invalid_argument("--runs-per-gpu needs --gpus");
  if (!o.gpu_memory.empty() && o.gpu_memory.size() != o.gpus.size())
    throw std::invalid_argument("one memory size per GPU is needed");
  if (o.max_retries < 0) throw std::invalid_argument("--max-retries must be >= 0");
  if (!(o.data_parallel_above >= 0))
    throw std::invalid_argument("--data-parallel-above must be >= 0");
  if (o.data_parallel_gpus < 0) throw std::invalid_argument("--data-parallel-gpus must be >= 0");
  if (o.retry_backoff_s < 0) throw std::invalid_argument("--retry-backoff must be >= 0");
}

namespace {

using Clock = std::chrono::steady_clock;
using detail::Child;

// A TCP port free on the loopback interface now, for a data-parallel run's
// store (rank 0 binds it a moment later).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("run: no socket for a data-parallel run's port");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t n = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("run: no free port for a data-parallel run");
  return ntohs(a.sin_port);
}

struct Gpu {
  std::string id;
  double capacity = 0;  // bytes; 0: unknown (no memory limit)
  int runs = 0;
  double used = 0;
};

class LocalScheduler {
 public:
  explicit LocalScheduler(const SchedulerOptions& o) : opt_(o), db_(o.db_path) {
    for (size_t i = 0; i < o.gpus.size(); ++i)
      gpus_.push_back({o.gpus[i], o.gpu_memory.empty() ? 0 : o.gpu_memory[i]});
    slots_ = gpus_.empty() ? std::max(1, o.workers)
                           : static_cast<int>(gpus_.size()) * o.runs_per_gpu;
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    threads_ = o.threads_per_worker > 0 ? o.threads_per_worker : std::max(1, cores / slots_);
    holder_.process = db::this_process();
    holder_.heartbeat_s = o.heartbeat_s;
    claim_.stale_after_s = o.stale_after_s;
    claim_.max_retries = o.max_retries;
    claim_.filter = o.filter;
  }

  SchedulerSummary run() {
    fail_oversized();
    auto last_reclaim = Clock::time_point{}, last_stages = Clock::time_point{};
    while (true) {
      if (opt_.stop && opt_.stop->load() && !stopping_) {
        stopping_ = true;
        for (auto& c : kids_) {
          ::kill(c.pid, SIGTERM);
          for (pid_t p : c.peers)
            if (p > 0) ::kill(p, SIGTERM);
        }
      }
      if (!stopping_ && Clock::now() - last_reclaim > std::chrono::seconds(2)) {
        for (const std::string& id : db_.reclaim_dead_holders(opt_.max_retries)) {
          ++sum_.reclaimed;
          std::cerr << "run: reclaimed " << id << " (its holder process is gone)\n";
        }
        last_reclaim = Clock::now();
      }
      const int before = sum_.started;
      bool none = !stopping_ && fill();
      if (none && opt_.open_stages &&
          (kids_.empty() || Clock::now() - last_stages > std::chrono::seconds(2))) {
        last_stages = Clock::now();
        if (opt_.open_stages(db_) > 0) none = fill();
      }
      const bool reaped = reap();
      if (kids_.empty() && (stopping_ || limit_reached() || (none && !waiting_for_backoff())))
        break;
      // A free slot is filled at once; otherwise poll the children calmly.
      if (!(reaped && !stopping_) && sum_.started == before)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return sum_;
  }

 private:
  bool limit_reached() const { return opt_.max_runs > 0 && sum_.started >= opt_.max_runs; }

  bool waiting_for_backoff() {
    const auto s = db_.next_backoff_s(opt_.filter);
    return s.has_value();
  }

  // Runs that no GPU here can hold fail at once, with the numbers.
  void fail_oversized() {
    double largest = 0;
    for (const Gpu& g : gpus_) largest = std::max(largest, g.capacity);
    if (largest <= 0) return;
    db::RunFilter f = opt_.filter;
    f.status = db::RunStatus::Pending;
    for (const db::Run& r : db_.list_runs(f)) {
      const double need = r.memory_estimate.value_or(0);
      if (need <= largest) continue;
      if (auto l = db_.claim_run(r.id, "scheduler", opt_.stale_after_s)) {
        const std::string why = "needs " + std::to_string(need / 1e9).substr(0, 6) +
                                " GB of GPU memory (planner estimate); the largest GPU given has " +
                                std::to_string(largest / 1e9).substr(0, 6) + " GB";
        db_.fail_run(*l, why);
        std::cerr << "run: " << r.id << " failed: " << why << "\n";
        ++sum_.failed;
      }
    }
  }

  // The GPU with a free slot and the most free memory; -1 if none.
  int pick_gpu() const {
    int best = -1;
    for (size_t i = 0; i < gpus_.size(); ++i) {
      if (gpus_[i].runs >= opt_.runs_per_gpu) continue;
      if (best < 0 || gpus_[i].capacity - gpus_[i].used > gpus_[best].capacity - gpus_[best].used)
        best = static_cast<int>(i);
    }
    return best;
  }

  // Claims and starts runs while slots are free. True when nothing was claimable.
  bool fill() {
    while (static_cast<int>(kids_.size()) < slots_ && !limit_reached()) {
      const int g = gpus_.empty() ? -1 : pick_gpu();
      if (!gpus_.empty() && g < 0) return false;
      db::ClaimOptions o = claim_;
      if (g >= 0 && gpus_[g].capacity > 0) o.max_memory = gpus_[g].capacity - gpus_[g].used;
      holder_.worker = holder_.process.host + ":" + std::to_string(holder_.process.pid) + ":" +
                       std::to_string(next_slot_++);
      auto r = db_.claim_next_run(holder_, o);
      // WSD branches become claimable when their parent checkpoints: keep
      // polling while a parent that will write one is still training.
      if (!r) return db::waiting_branches(db_, opt_.filter) == 0;
      const std::vector<int> group = data_parallel_group(*r, g);
      if (group.size() >= 2)
        start_data_parallel(*r, group);
      else
        start(*r, g);
    }
    return false;
  }

  std::vector<int> data_parallel_group(const db::Run& r, int g) const {
    if (g < 0 || gpus_.size() < 2 || opt_.data_parallel_above <= 0) return {};
    if (r.memory_estimate.value_or(0) <= opt_.data_parallel_above * gpus_[g].capacity) return {};
    std::vector<GpuLoad> load;
    for (const Gpu& x : gpus_) load.push_back({x.capacity, x.runs});
    const int64_t batch = spec::run_spec_from_json(nlohmann::json::parse(r.spec_json)).batch_size();
    return sweep::data_parallel_group(load, g, r.memory_estimate.value_or(0), batch,
                                      opt_.data_parallel_above, opt_.data_parallel_gpus);
  }

  // One process per GPU of GROUP; rank 0 holds the lease.
  void start_data_parallel(const db::Run& r, const std::vector<int>& group) {
    Child c = prepare(r, -1);
    std::string ids;
    for (int g : group) ids += (ids.empty() ? "" : ",") + gpus_[g].id;
    if (opt_.echo)
      std::cerr << "run: starting " << r.id << " (" << r.arch << ", " << r.name << ", "
                << group.size() << " GPUs " << ids << " data-parallel, attempt " << r.attempts
                << ")\n";
    const std::string port = std::to_string(free_port());
    const std::string dir = opt_.runs_root + "/" + r.id;
    for (size_t k = 0; k < group.size(); ++k) {
      const std::vector<std::string> env = {
          "RANK=" + std::to_string(k), "LOCAL_RANK=" + std::to_string(k),
          "WORLD_SIZE=" + std::to_string(group.size()), "MASTER_ADDR=127.0.0.1",
          "MASTER_PORT=" + port};
      const std::string log = k == 0 ? c.log_path : dir + "/train.rank" + std::to_string(k) + ".log";
      try {
        const pid_t pid = detail::spawn(train_args(r, c, dir), log, ids, env);
        if (k == 0)
          c.pid = pid;
        else
          c.peers.push_back(pid);
      } catch (const std::exception& e) {
        for (pid_t p : c.peers) ::kill(p, SIGKILL);
        if (c.pid > 0) ::kill(c.pid, SIGKILL);
        db_.fail_run({r.id, r.lease}, e.what());
        throw;
      }
    }
    try {
      db_.attach({r.id, r.lease}, db::process_id(c.pid));
    } catch (const db::LeaseLost&) {
    }
    c.dp_gpus = group;
    for (int g : group) {
      ++gpus_[g].runs;
      gpus_[g].used += c.memory;
    }
    kids_.push_back(c);
    ++sum_.started;
  }

  Child prepare(const db::Run& r, int g) {
    Child c;
    c.run_id = r.id;
    c.worker = r.worker;
    c.lease = r.lease;
    c.gpu = g;
    c.memory = r.memory_estimate.value_or(0);
    const std::string dir = opt_.runs_root + "/" + r.id;
    std::filesystem::create_directories(dir);
    c.log_path = dir + "/train.log";
    c.echoed = std::filesystem::exists(c.log_path)
                   ? static_cast<std::streamoff>(std::filesystem::file_size(c.log_path))
                   : 0;
    return c;
  }

  std::vector<std::string> train_args(const db::Run& r, const Child& c, const std::string& dir) {
    return {opt_.self_exe, "--db", opt_.db_path, "train", r.id,
            "--worker", c.worker, "--lease", std::to_string(r.lease),
            "--run-dir", dir, "--device", opt_.device,
            "--heartbeat-every", std::to_string(opt_.heartbeat_s),
            "--checkpoint-every", std::to_string(opt_.checkpoint_every_s)};
  }

  void start(const db::Run& r, int g) {
    Child c = prepare(r, g);
    const std::string dir = opt_.runs_root + "/" + r.id;
    const std::string gpu = g >= 0 ? gpus_[g].id : "";
    if (opt_.echo)
      std::cerr << "run: starting " << r.id << " (" << r.arch << ", " << r.name
                << (gpu.empty() ? "" : ", GPU " + gpu) << ", attempt " << r.attempts << ")\n";
    std::vector<std::string> args = train_args(r, c, dir);
    if (gpu.empty()) args.insert(args.end(), {"--threads", std::to_string(threads_)});
    try {
      c.pid = detail::spawn(args, c.log_path, gpu);
    } catch (const std::exception& e) {
      db_.fail_run({r.id, r.lease}, e.what());
      throw;
    }
    // The child holds the lease from now on, also while LibTorch loads: if this
    // scheduler dies, the run is not reclaimed from a trainer that is alive.
    try {
      db_.attach({r.id, r.lease}, db::process_id(c.pid));
    } catch (const db::LeaseLost&) {  // reclaimed in between; the child will find out
    }
    if (g >= 0) {
      ++gpus_[g].runs;
      gpus_[g].used += c.memory;
    }
    kids_.push_back(c);
    ++sum_.started;
  }

  // Handles the children that exited; true if any did.
  bool reap() {
    bool any = false;
    for (size_t i = 0; i < kids_.size();) {
      Child& c = kids_[i];
      if (opt_.echo) detail::echo_new_output(c);
      reap_peers(c);
      int st = 0;
      if (::waitpid(c.pid, &st, WNOHANG) != c.pid) {
        ++i;
        continue;
      }
      // Rank 0 has recorded the run (or died): no other rank has more to do.
      for (pid_t& p : c.peers)
        if (p > 0) {
          ::kill(p, SIGKILL);
          ::waitpid(p, nullptr, 0);
          p = -1;
        }
      if (opt_.echo) detail::echo_new_output(c);
      try {
        ended(c, st);
      } catch (const db::LeaseLost& e) {
        ++sum_.lost;
        std::cerr << "run: " << e.what() << "\n";
      }
      std::vector<int> held = c.dp_gpus;
      if (c.gpu >= 0) held.push_back(c.gpu);
      for (int g : held) {
        --gpus_[g].runs;
        gpus_[g].used -= c.memory;
      }
      kids_.erase(kids_.begin() + static_cast<std::ptrdiff_t>(i));
      any = true;
    }
    return any;
  }

  // A data-parallel rank other than 0 that ended on its own while rank 0
  // runs failed (rank 0 would wait for it in a collective until the
  // timeout): rank 0 is killed and the run failed with this rank's reason.
  void reap_peers(Child& c) {
    for (size_t k = 0; k < c.peers.size(); ++k) {
      int st = 0;
      if (c.peers[k] <= 0 || ::waitpid(c.peers[k], &st, WNOHANG) != c.peers[k]) continue;
      c.peers[k] = -1;
      if (WIFEXITED(st) && WEXITSTATUS(st) == kTrainDone) continue;  // rank 0 follows
      if (WIFEXITED(st) && WEXITSTATUS(st) == kTrainInterrupted) continue;
      if (c.peer_failure.empty()) {
        const std::string log = opt_.runs_root + "/" + c.run_id + "/train.rank" +
                                std::to_string(k + 1) + ".log";
        c.peer_failure = "data-parallel rank " + std::to_string(k + 1) + ": worker " +
                         describe_exit(st) + "; last output:\n" + tail_lines(log, 8);
        ::kill(c.pid, SIGKILL);
      }
    }
  }

  // What a child's exit means for its run (fenced: a lost lease throws).
  void ended(const Child& c, int st) {
    const db::Lease lease{c.run_id, c.lease};
    const int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    auto r = db_.get_run(c.run_id);
    const bool ours = r && r->lease == c.lease;
    if (!c.peer_failure.empty() && ours && r->status == db::RunStatus::Running) {
      db_.fail_run(lease, c.peer_failure);
      ++sum_.failed;
      std::cerr << "run: " << c.run_id << " failed: " << c.peer_failure;
      return;
    }
    if (code == kTrainDone && ours && r->status == db::RunStatus::Done) {
      ++sum_.done;
      record_speed(*r);
    } else if (code == kTrainInterrupted) {
      ++sum_.interrupted;
    } else if (code == kTrainLeaseLost || !ours) {
      ++sum_.lost;
    } else if (code == kTrainRetry || (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
      const std::string why =
          "worker " + describe_exit(st) + (code == kTrainRetry ? " (out of memory)" : "") +
          "; last output:\n" + tail_lines(c.log_path, 4);
      if (db_.retry_later(lease, why, opt_.retry_backoff_s, opt_.max_retries)) {
        ++sum_.retried;
        std::cerr << "run: " << c.run_id << ": worker " << describe_exit(st)
                  << "; retried after a backoff\n";
      } else {
        ++sum_.failed;
        std::cerr << "run: " << c.run_id << ": worker " << describe_exit(st)
                  << "; out of retries, failed\n";
      }
    } else if (r->status == db::RunStatus::Running) {
      // A crash leaves the run running: record it with the log's last lines.
      db_.fail_run(lease, "worker " + describe_exit(st) + "; last output:\n" +
                              tail_lines(c.log_path, 8));
      ++sum_.failed;
      std::cerr << "run: " << c.run_id << " failed (" << describe_exit(st) << "), see "
                << c.log_path << "\n";
    } else {
      ++(r->status == db::RunStatus::Diverged ? sum_.diverged : sum_.failed);
    }
  }

  // FLOP/s this machine reached on a finished run, for the next sweep's estimate.
  void record_speed(const db::Run& r) {
    const auto m = db_.metrics(r.id);
    if (m.empty() || !m.back().elapsed_s || *m.back().elapsed_s <= 0) return;
    const std::string dev = gpus_.empty() ? "cpu" : "gpu";
    const double per_slot = r.flops / *m.back().elapsed_s;
    const auto old = db_.speed(holder_.process.host, dev);
    db_.record_speed(holder_.process.host, dev, old ? 0.5 * (*old + per_slot) : per_slot,
                     "run " + r.id);
  }

  const SchedulerOptions& opt_;
  db::Database db_;
  std::vector<Gpu> gpus_;
  int slots_ = 1, threads_ = 1, next_slot_ = 0;
  db::Holder holder_;
  db::ClaimOptions claim_;
  std::vector<Child> kids_;
  SchedulerSummary sum_;
  bool stopping_ = false;
};

}  // namespace

std::vector<int> data_parallel_group(const std::vector<GpuLoad>& gpus, int first, double memory,
                                     int64_t batch, double above, int most_gpus) {
  if (first < 0 || first >= static_cast<int>(gpus.size()) || above <= 0) return {};
  const GpuLoad& f = gpus[first];
  if (f.runs > 0 || f.capacity <= 0 || memory <= above * f.capacity) return {};
  std::vector<int> idle{first};
  for (size_t i = 0; i < gpus.size(); ++i)
    if (static_cast<int>(i) != first && gpus[i].runs == 0 && gpus[i].capacity >= memory)
      idle.push_back(static_cast<int>(i));
  const size_t most = most_gpus > 0 ? std::min<size_t>(idle.size(), most_gpus) : idle.size();
  // Each rank trains on batch / k sequences: k must divide the batch.
  for (size_t k = most; k >= 2; --k)
    if (batch % static_cast<int64_t>(k) == 0) return {idle.begin(), idle.begin() + k};
  return {};
}

SchedulerSummary run_scheduler(const SchedulerOptions& opt) {
  check_options(opt);
  return LocalScheduler(opt).run();
}

}  // namespace scalelab::sweep
