// What a run costs beyond its parameters and FLOPs (those are exact, in
// models/spec): training memory and GPU-hours, from stated assumptions.
//
// Memory (per GPU; a run data-parallel over G GPUs holds a whole replica on
// each, no sharding, no recomputation, and 1/G of each batch):
//   weights + grads + AdamW   16 B/param: fp32 master weights (4), fp32 grads
//                             (4), AdamW first and second moments (4 + 4)
//   activations               bytes saved for backward per token x tokens in
//                             flight, bf16 (2 B/element) with an fp32 residual
//                             stream, counted tensor by tensor as the trainer
//                             keeps them (Korthikanti et al. 2022, arXiv:2205.05198
//                             Sec. 4.1, with flash attention and the fused ops of
//                             kernels/); each mixer counts its own
//                             (MixerDef::activation_elements).
//   workspace                 bf16 weight copies (2 B/param), one chunk of bf16
//                             logits (<= 256 MiB) and the output head's fp32
//                             gradient: the fused loss never holds [tokens, vocab].
// Checked against the GPU trainer's measured peak (bench/RESULTS.md, "Trainer").
// Micro-batch: the largest number of sequences per forward, halving from the
// whole batch, whose estimate fits in the GPU's memory (gradient accumulation
// makes up the rest of the batch); or a fixed one given in tokens.
// GPU-hours = training FLOPs / (MFU x peak FLOP/s) / 3600, summed over the
// run's GPUs (the all-reduce is assumed hidden behind the backward); wall
// hours = GPU-hours / G. Tokens per GPU = tokens / G.
#pragma once

#include <cstdint>

#include "models/spec/run_spec.h"
#include "models/spec/spec.h"

namespace scalelab::sweep {

struct Hardware {
  double peak_flops = 989e12;      // H100 SXM, bf16 dense tensor cores
  double mfu = 0.4;                // model FLOPs utilisation assumed
  double gpu_hour_price = 2.0;     // $ per GPU-hour
  double gpu_memory = 80e9;        // bytes per GPU
  int64_t micro_batch_tokens = 0;  // tokens per forward; 0: the largest that fits
  int gpus_per_run = 1;            // data parallel: each run's batch split over this many GPUs
};

struct MemoryEstimate {
  double weights = 0, grads = 0, optimizer = 0, activations = 0;  // bytes
  double workspace = 0;  // bf16 weight copies, one chunk of logits, the head's fp32 gradient
  double total() const { return weights + grads + optimizer + activations + workspace; }
};

// Bytes saved for the backward pass per token of a micro-batch, all layers
// plus the output head and loss.
double activation_bytes_per_token(const spec::ModelSpec& model);
MemoryEstimate training_memory(const spec::ModelSpec& model, int64_t params,
                               int64_t tokens_in_flight);

struct RunCost {
  MemoryEstimate memory;       // per GPU, at the micro-batch below
  int64_t micro_batch = 1;     // sequences per forward (on each GPU)
  int64_t accumulation = 1;    // forwards per optimiser step (on each GPU)
  int gpus = 1;                // GPUs the run is data-parallel over
  int64_t batch_per_gpu = 1;   // sequences of each batch one GPU trains on
  int64_t tokens_per_gpu = 0;  // training tokens one GPU processes
  double wall_hours = 0;       // gpu_hours / gpus
  double gpu_hours = 0;
  double cost = 0;  // gpu_hours x price
  bool fits = true;  // memory.total() <= hw.gpu_memory (false: not even one sequence fits)
  bool splits = true;  // the batch divides evenly over the GPUs (the trainer requires it)
};
RunCost account(const spec::RunSpec& run, int64_t params, double train_flops, const Hardware& hw);

}  // namespace scalelab::sweep
