// Child processes of the schedulers: starting `scalelab train`, echoing its
// log, and saying how it ended. Internal to sweep/.
#pragma once

#include <sys/types.h>

#include <fstream>
#include <string>
#include <vector>

namespace scalelab::sweep::detail {

struct Child {
  pid_t pid = -1;            // rank 0 of a data-parallel run
  std::vector<pid_t> peers;  // ranks 1.. of a data-parallel run (-1 once reaped)
  std::vector<int> dp_gpus;  // the GPUs of a data-parallel run (gpu is -1 then)
  std::string peer_failure;  // why a rank other than 0 ended the run early
  std::string run_id, worker, log_path;
  int64_t lease = 0;
  int gpu = -1;              // index into the scheduler's GPUs; -1: a CPU slot
  double memory = 0;         // the run's memory estimate, bytes
  std::streamoff echoed = 0; // bytes of the log already copied to stderr
};

// Starts ARGS[0] with ARGS, stdout and stderr appended to LOG_PATH, and
// CUDA_VISIBLE_DEVICES=GPU when GPU is not empty, and the NAME=VALUE entries
// of ENV. Throws std::runtime_error.
pid_t spawn(const std::vector<std::string>& args, const std::string& log_path,
            const std::string& gpu, const std::vector<std::string>& env = {});

// Copies whole new lines of the child's log to stderr.
void echo_new_output(Child& c);

}  // namespace scalelab::sweep::detail
