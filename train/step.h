// One optimiser step of a decoder on a fixed-shape batch, as fast as the
// device allows. Per step: the batch in micro-batches with gradient
// accumulation (sequences per forward from the planner's memory estimate),
// forward under bf16 autocast on a GPU with the fused output head + loss,
// backward, then AdamW with fused global-norm clipping (train/optimizer.h).
//
// On a GPU the whole step (every micro-batch's forward and backward, the
// clipping and the update) is captured once in a CUDA graph, after a few
// eager warm-up steps, and then replayed: one launch per step instead of
// thousands, and no host work between kernels. Small models are launch-bound
// without it. The graph reads its tokens from input() and writes the step's
// loss and gradient norm to stats(), both device tensors at fixed addresses;
// nothing in a step waits for the host.
//
// Every step is a real training step: warm-up steps are not thrown away, and
// graphed and eager steps compute the same thing (tested against each other).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "models/autocast.h"
#include "models/decoder.h"
#include "train/optimizer.h"

namespace scalelab::train {

class GradSync;  // train/distributed.h

struct StepOptions {
  int64_t batch = 1;        // sequences per optimiser step
  int64_t seq_len = 1;      // tokens per sequence (input() holds seq_len + 1)
  int64_t micro_batch = 0;  // sequences per forward; 0: the whole batch
  bool cuda_graph = true;   // capture and replay the step on a GPU
  int warmup_steps = 2;     // eager steps before capture (lazy init: cuBLAS, tables)
  torch::Tensor scored;     // [P] int64 on the device: the only positions the loss
                            // counts (a task's answers); undefined: all
  // Data parallel: averages the last micro-batch's gradients and the loss over
  // the process group before the clip and the update (nullptr: one process).
  GradSync* grad_sync = nullptr;
};

class TrainStep {
 public:
  // The model and optimiser live on DEV. On a GPU the caller runs every step
  // on one non-default stream (the graph is captured on it).
  TrainStep(models::Decoder model, AdamW& opt, torch::Device dev, const StepOptions& o);
  ~TrainStep();

  // [batch, seq_len + 1] int64 on the device: the tokens the next run() trains on.
  torch::Tensor& input() { return input_; }
  // One step at learning rate LR on input(). Asynchronous on a GPU.
  void run(double lr);
  // [2] fp32 on the device: the last step's mean loss and pre-clip gradient norm.
  const torch::Tensor& stats() const { return stats_; }
  bool graphed() const { return graph_ != nullptr; }
  // Why the step runs eagerly on a GPU although graphs were asked for ("" if not).
  const std::string& capture_error() const { return capture_error_; }
  int64_t micro_batch() const { return micro_; }

 private:
  void body();  // the step itself: eager, or recorded into the graph
  void capture();

  models::Decoder model_;
  AdamW& opt_;
  torch::Device dev_;
  StepOptions o_;
  int64_t micro_;
  int64_t done_ = 0;
  torch::Tensor input_, stats_;
  struct Graph;
  std::unique_ptr<Graph> graph_;
  std::string capture_error_;
};

using models::AutocastGuard;  // (models/autocast.h)

}  // namespace scalelab::train
