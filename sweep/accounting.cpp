#include "sweep/accounting.h"

#include <algorithm>
#include <cmath>

namespace scalelab::sweep {
namespace {

constexpr double kBf16 = 2, kFp32 = 4;

}  // namespace

double activation_bytes_per_token(const spec::ModelSpec& model) {
  const double d = model.d_model, f = model.ffn();
  // Per block, as the trainer keeps them (bf16 under autocast, the residual
  // stream fp32): the two fused add+RMSNorms' fp32 outputs (2 x 2d), the
  // SwiGLU's input (d), its packed gate|up projection (2f) and its output
  // that feeds the down projection (f), and two fp32 rstd.
  const double block_common = 4 * d + d + 3 * f + 4;
  double elements = 0;
  // Each mixer counts its own (models/mixers/<name>/spec.cpp).
  for (spec::MixerKind kind : model.layers)
    elements += block_common + kind->activation_elements(model);
  double bytes = elements * kBf16;
  // The final norm's fp32 input, and the loss's saved gradient of the hidden
  // state (kernels/cross_entropy: the logits are never kept whole).
  bytes += d * kFp32 + d * kBf16;
  return bytes;
}

namespace {

// The fused loss (kernels/cross_entropy) works through the tokens in chunks of
// at most 256 MiB of bf16 logits; its cross_entropy_chunk_rows is this.
double loss_chunk_rows(int64_t tokens, int64_t vocab) {
  const double fit = std::max<double>(1, std::floor((256.0 * 1024 * 1024) / (2.0 * vocab)));
  return std::min<double>(static_cast<double>(tokens), fit);
}

MemoryEstimate memory_of(const spec::ModelSpec& model, double activation_bytes, int64_t params,
                         int64_t tokens_in_flight) {
  MemoryEstimate m;
  const double p = static_cast<double>(params), v = model.vocab, d = model.d_model;
  m.weights = kFp32 * p;
  m.grads = kFp32 * p;
  m.optimizer = 2 * kFp32 * p;
  m.activations = activation_bytes * static_cast<double>(tokens_in_flight);
  // bf16 copies of the weights (autocast's cache, one per step), one chunk of
  // logits and the output head's fp32 gradient the loss keeps until backward.
  m.workspace = kBf16 * p + loss_chunk_rows(tokens_in_flight, model.vocab) * v * kBf16 + v * d * kFp32;
  return m;
}

}  // namespace

MemoryEstimate training_memory(const spec::ModelSpec& model, int64_t params,
                               int64_t tokens_in_flight) {
  return memory_of(model, activation_bytes_per_token(model), params, tokens_in_flight);
}

RunCost account(const spec::RunSpec& run, int64_t params, double train_flops, const Hardware& hw) {
  RunCost c;
  const int64_t seq = run.model.seq_len, global = std::max<int64_t>(run.batch_size(), 1);
  c.gpus = std::max(1, hw.gpus_per_run);
  c.splits = global % c.gpus == 0;
  const int64_t batch = std::max<int64_t>(1, global / c.gpus);
  c.batch_per_gpu = batch;
  c.tokens_per_gpu = run.tokens / c.gpus;
  const double act = activation_bytes_per_token(run.model);
  int64_t micro = batch;
  if (hw.micro_batch_tokens > 0) {
    micro = std::clamp<int64_t>(hw.micro_batch_tokens / seq, 1, batch);
  } else {
    while (micro > 1 && memory_of(run.model, act, params, micro * seq).total() > hw.gpu_memory)
      micro = (micro + 1) / 2;
  }
  c.micro_batch = micro;
  c.accumulation = (batch + micro - 1) / micro;
  c.memory = memory_of(run.model, act, params, micro * seq);
  c.gpu_hours = train_flops / (hw.mfu * hw.peak_flops) / 3600.0;
  c.cost = c.gpu_hours * hw.gpu_hour_price;
  c.wall_hours = c.gpu_hours / c.gpus;
  c.fits = c.memory.total() <= hw.gpu_memory;
  return c;
}

}  // namespace scalelab::sweep
