// The input pipeline of the trainer: the batches of the coming steps are made
// on a background thread (a batch is a pure function of the step, so any
// thread can make it) into pinned host buffers, copied to the GPU on a
// separate copy stream while the current step computes, and handed to the
// step with one device-to-device copy on the compute stream. The trainer never
// waits for the host to gather tokens, and never syncs for its input.
// On a CPU the same thread makes the batches ahead into plain buffers.
#pragma once

#include <torch/torch.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace scalelab::train {

class Prefetcher {
 public:
  // FILL(step, out) writes the tokens of STEP into out (numel(shape) int64).
  using Fill = std::function<void(int64_t step, int64_t* out)>;
  // Batches of SHAPE (int64) for steps FIRST, FIRST + 1, ... on DEV, DEPTH ahead.
  Prefetcher(Fill fill, std::vector<int64_t> shape, torch::Device dev, int64_t first,
             int depth = 3);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Makes DST (a device tensor of SHAPE) hold the batch of STEP, ordered on
  // the current stream. Steps are asked for in order from FIRST. Rethrows an
  // exception FILL raised on the worker.
  void next_into(int64_t step, torch::Tensor& dst);

 private:
  struct Slot;
  void work();
  void issue_copies();  // starts the host-to-device copies of filled slots

  Fill fill_;
  std::vector<int64_t> shape_;
  torch::Device dev_;
  int64_t next_fill_, next_take_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;
  struct Cuda;
  std::unique_ptr<Cuda> cuda_;
};

}  // namespace scalelab::train
