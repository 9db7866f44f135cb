#include "sweep/scheduler.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "db/lineage.h"

extern char** environ;

namespace scalelab::sweep {

namespace {

struct Child {
  pid_t pid = -1;
  std::string run_id, worker, log_path;
  std::streamoff echoed = 0;  // bytes of the log already copied to stderr
};

std::string hostname() {
  char h[256] = {0};
  ::gethostname(h, sizeof h - 1);
  return h;
}

std::string tail_lines(const std::string& path, size_t n) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line);
    if (last.size() > n) last.pop_front();
  }
  std::string out;
  for (auto& l : last) out += l + "\n";
  return out;
}

void echo_new_output(Child& c) {
  std::ifstream in(c.log_path, std::ios::binary);
  if (!in) return;
  in.seekg(c.echoed);
  std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Only whole lines, so two children's lines never interleave mid-line.
  const size_t end = chunk.rfind('\n');
  if (end == std::string::npos) return;
  std::cerr.write(chunk.data(), static_cast<std::streamsize>(end + 1));
  c.echoed += static_cast<std::streamoff>(end + 1);
}

pid_t spawn_child(const SchedulerOptions& opt, const Child& c, const std::string& gpu,
                  int threads) {
  std::vector<std::string> args = {opt.self_exe, "--db",   opt.db_path, "train",
                                   c.run_id,     "--worker", c.worker,  "--run-dir",
                                   opt.runs_root + "/" + c.run_id, "--device", opt.device};
  if (threads > 0) {
    args.push_back("--threads");
    args.push_back(std::to_string(threads));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e)
    if (gpu.empty() || std::strncmp(*e, "CUDA_VISIBLE_DEVICES=", 21) != 0) env_store.push_back(*e);
  if (!gpu.empty()) env_store.push_back("CUDA_VISIBLE_DEVICES=" + gpu);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, c.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, opt.self_exe.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    throw std::runtime_error("run: cannot start '" + opt.self_exe + "': " + std::strerror(rc));
  return pid;
}

}  // namespace

std::string describe_exit(int st) {
  if (WIFEXITED(st)) return "exit code " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) {
    const int sig = WTERMSIG(st);
    std::string s = "killed by signal " + std::to_string(sig);
    if (sig == SIGKILL) s += " (SIGKILL; out of memory?)";
    if (sig == SIGSEGV) s += " (SIGSEGV)";
    if (sig == SIGABRT) s += " (SIGABRT)";
    return s;
  }
  return "status " + std::to_string(st);
}

SchedulerSummary run_scheduler(const SchedulerOptions& opt) {
  db::Database db(opt.db_path);
  std::vector<std::string> slots = opt.gpus;
  if (slots.empty()) slots.assign(std::max(1, opt.workers), "");
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = opt.threads_per_worker > 0
                          ? opt.threads_per_worker
                          : std::max(1, cores / static_cast<int>(slots.size()));
  std::vector<Child> running(slots.size());
  SchedulerSummary sum;
  const std::string host = hostname() + ":" + std::to_string(::getpid());
  bool exhausted = false, stopping = false;

  while (true) {
    if (opt.stop && opt.stop->load() && !stopping) {
      stopping = true;
      for (auto& c : running)
        if (c.pid > 0) ::kill(c.pid, SIGTERM);
    }
    // Fill free slots.
    for (size_t s = 0; s < slots.size() && !exhausted && !stopping; ++s) {
      if (running[s].pid > 0) continue;
      if (opt.max_runs > 0 && sum.started >= opt.max_runs) {
        exhausted = true;
        break;
      }
      Child c;
      c.worker = host + ":" + std::to_string(s);
      auto r = db.claim_next_run(c.worker, opt.stale_after_s, opt.filter);
      if (!r) {
        // WSD branches become claimable when their parent checkpoints: keep
        // polling while a parent that will write one is still training.
        exhausted = db::waiting_branches(db, opt.filter) == 0;
        break;
      }
      c.run_id = r->id;
      const std::string dir = opt.runs_root + "/" + r->id;
      std::filesystem::create_directories(dir);
      c.log_path = dir + "/train.log";
      c.echoed = std::filesystem::exists(c.log_path)
                     ? static_cast<std::streamoff>(std::filesystem::file_size(c.log_path))
                     : 0;
      std::cerr << "run: starting " << r->id << " (" << r->arch << ", " << r->name
                << (slots[s].empty() ? "" : ", GPU " + slots[s]) << ", attempt " << r->attempts
                << ")\n";
      try {
        c.pid = spawn_child(opt, c, slots[s], slots[s].empty() ? threads : 0);
      } catch (const std::exception& e) {
        db.fail_run(r->id, e.what());
        throw;
      }
      running[s] = c;
      ++sum.started;
    }
    bool any = false;
    for (auto& c : running) {
      if (c.pid <= 0) continue;
      any = true;
      if (opt.echo) echo_new_output(c);
      int st = 0;
      if (::waitpid(c.pid, &st, WNOHANG) != c.pid) continue;
      if (opt.echo) echo_new_output(c);
      auto r = db.get_run(c.run_id);
      if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && r && r->status == db::RunStatus::Done) {
        ++sum.done;
      } else if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
        ++sum.interrupted;
      } else {
        ++sum.failed;
        // The child records its own failures; a crash leaves the run running.
        if (r && r->status == db::RunStatus::Running && r->worker == c.worker)
          db.fail_run(c.run_id, "worker " + describe_exit(st) + "; last output:\n" +
                                    tail_lines(c.log_path, 8));
        std::cerr << "run: " << c.run_id << " failed (" << describe_exit(st) << "), see "
                  << c.log_path << "\n";
      }
      c = Child{};
    }
    if (!any && (exhausted || stopping)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return sum;
}

}  // namespace scalelab::sweep
