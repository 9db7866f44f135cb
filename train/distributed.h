// Data parallelism for one run over several processes, one per GPU, with
// LibTorch's c10d: NCCL moves the gradients between GPUs, gloo between CPU
// processes (the tests); a second, gloo group on the CPU carries the few
// decisions every rank must take at the same step (stop, checkpoint).
//
// The processes find each other as torchrun's do: RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR, MASTER_PORT (rank 0 hosts the TCPStore there).
// Each rank trains on its slice of every global batch (a function of (seed,
// step), so no data moves) and the gradients are averaged before the grad
// norm and the clip, so N processes compute what one process with the same
// global batch computes, up to the order of float sums (tested).
//
// GradSync averages the gradients while the backward still runs: parameters
// are grouped, in reverse registration order (about the order the backward
// makes their gradients), into buckets of bucket_bytes; a hook on each
// parameter's gradient accumulator sees it finish, and a bucket whose every
// gradient is final is copied into one flat buffer and all-reduced at once,
// asynchronously, while the backward goes on with the layers before it
// (PyTorch DDP's design: Li et al. 2020, arXiv:2006.15704). Buckets are
// launched strictly in order, so every rank issues the same collectives in
// the same order. Only the last micro-batch's backward is armed: gradient
// accumulation needs no communication (DDP's no_sync). Everything it does is
// device work on the current stream (or NCCL's, joined back to it), so the
// whole step, all-reduces included, can still be captured in a CUDA graph.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace scalelab::train {

// Where this process sits in a data-parallel run (torchrun's variables).
struct DistEnv {
  int rank = 0, world = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool active = false;  // WORLD_SIZE was set: join a process group (even of size 1)
};

// From the environment; inactive when WORLD_SIZE is unset. Throws
// std::invalid_argument naming the variable that is missing or malformed.
DistEnv dist_env_from_environment();

// A joined process group: the data plane (NCCL on a GPU, gloo on a CPU) and
// the CPU control plane (gloo). Collective calls must be made by every rank
// in the same order.
class ProcessGroup {
 public:
  // Joins (blocks until all WORLD ranks have, or TIMEOUT). DEV: the tensors'
  // device (cuda:N uses NCCL; throws when this build has no NCCL).
  static std::unique_ptr<ProcessGroup> join(const DistEnv& env, const torch::Device& dev,
                                            std::chrono::seconds timeout);
  ~ProcessGroup();

  int rank() const { return rank_; }
  int world() const { return world_; }
  const std::string& backend() const { return backend_; }  // "nccl" | "gloo"

  // Rank 0's values into every rank's TENSORS (in place).
  void broadcast(std::vector<torch::Tensor> tensors);
  // Sum over ranks, in place; the device waits for it (a GPU's host does not).
  void all_reduce_sum(torch::Tensor t);
  // Starts a sum over ranks of T (in place); wait(handle) makes the current
  // stream (CPU: the host) wait for it.
  struct Pending;
  std::shared_ptr<Pending> all_reduce_sum_async(torch::Tensor t);
  static void wait(const std::shared_ptr<Pending>& p);

  // Control plane (CPU, blocking): the bitwise OR of every rank's FLAGS.
  uint32_t any(uint32_t flags);
  // Every rank reaches this before any goes on.
  void barrier() { any(0); }
  // The orderly end (every rank, nothing in flight): NCCL's communicators
  // are released rather than leaked at exit.
  void shutdown();

 private:
  ProcessGroup() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int rank_ = 0, world_ = 1;
  std::string backend_;
};

// Averages PARAMS' gradients over the group during the backward (see above).
class GradSync {
 public:
  GradSync(ProcessGroup& pg, std::vector<torch::Tensor> params, int64_t bucket_bytes);
  ~GradSync();
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  // The next backward's final gradients are all-reduced as they appear.
  void arm();
  // After that backward: starts what is left, waits, and leaves the mean
  // over ranks in every .grad; LOSS (a device scalar) is averaged too.
  void finish(torch::Tensor& loss);

  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }
  // Buckets started by the backward's hooks in the last step (the rest
  // were started by finish()): how much of the traffic overlapped.
  int64_t started_in_backward() const { return started_in_backward_; }

 private:
  struct Bucket;
  void on_ready(size_t param);
  void launch_ready();
  void launch(Bucket& b);

  ProcessGroup& pg_;
  std::vector<torch::Tensor> params_;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  std::vector<size_t> bucket_of_;  // param index -> bucket
  std::vector<std::shared_ptr<void>> accumulators_;  // keeps the hooked nodes alive
  std::mutex mu_;
  bool armed_ = false;
  size_t next_ = 0;  // the next bucket to launch
  int64_t started_in_backward_ = 0;
};

}  // namespace scalelab::train
