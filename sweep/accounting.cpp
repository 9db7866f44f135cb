#include "sweep/accounting.h"

#include <algorithm>

namespace scalelab::sweep {
namespace {

constexpr double kBf16 = 2, kFp32 = 4;

}  // namespace

double activation_bytes_per_token(const spec::ModelSpec& model) {
  const double d = model.d_model, f = model.ffn();
  // Per block: two RMSNorm inputs (2d); SwiGLU input, gate and up outputs,
  // silu(gate), and their product that feeds the down projection (d + 4f).
  const double block_common = 2 * d + d + 4 * f;
  double elements = 0;
  // Each mixer counts its own (models/mixers/<name>/spec.cpp).
  for (spec::MixerKind kind : model.layers)
    elements += block_common + kind->activation_elements(model);
  double bytes = elements * kBf16;
  // Final norm input, then bf16 logits and their fp32 copy for the loss.
  bytes += d * kBf16 + model.vocab * (kBf16 + kFp32);
  return bytes;
}

namespace {

MemoryEstimate memory_of(double activation_bytes, int64_t params, int64_t tokens_in_flight) {
  MemoryEstimate m;
  const double p = static_cast<double>(params);
  m.weights = kFp32 * p;
  m.grads = kFp32 * p;
  m.optimizer = 2 * kFp32 * p;
  m.activations = activation_bytes * static_cast<double>(tokens_in_flight);
  return m;
}

}  // namespace

MemoryEstimate training_memory(const spec::ModelSpec& model, int64_t params,
                               int64_t tokens_in_flight) {
  return memory_of(activation_bytes_per_token(model), params, tokens_in_flight);
}

RunCost account(const spec::RunSpec& run, int64_t params, double train_flops, const Hardware& hw) {
  RunCost c;
  const int64_t seq = run.model.seq_len, batch = std::max<int64_t>(run.batch_size(), 1);
  const double act = activation_bytes_per_token(run.model);
  int64_t micro = batch;
  if (hw.micro_batch_tokens > 0) {
    micro = std::clamp<int64_t>(hw.micro_batch_tokens / seq, 1, batch);
  } else {
    while (micro > 1 && memory_of(act, params, micro * seq).total() > hw.gpu_memory)
      micro = (micro + 1) / 2;
  }
  c.micro_batch = micro;
  c.accumulation = (batch + micro - 1) / micro;
  c.memory = memory_of(act, params, micro * seq);
  c.gpu_hours = train_flops / (hw.mfu * hw.peak_flops) / 3600.0;
  c.cost = c.gpu_hours * hw.gpu_hour_price;
  c.fits = c.memory.total() <= hw.gpu_memory;
  return c;
}

}  // namespace scalelab::sweep
