#include "sweep/child.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <iostream>
#include <stdexcept>

#include "sweep/scheduler.h"

extern char** environ;

namespace scalelab::sweep {

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

namespace detail {

pid_t spawn(const std::vector<std::string>& args, const std::string& log_path,
            const std::string& gpu, const std::vector<std::string>& env) {
  std::vector<std::string> a = args;
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e)
    if (gpu.empty() || std::strncmp(*e, "CUDA_VISIBLE_DEVICES=", 21) != 0) env_store.push_back(*e);
  if (!gpu.empty()) env_store.push_back("CUDA_VISIBLE_DEVICES=" + gpu);
  env_store.insert(env_store.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, a[0].c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("run: cannot start '" + a[0] + "': " + std::strerror(rc));
  return pid;
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

}  // namespace detail
}  // namespace scalelab::sweep
