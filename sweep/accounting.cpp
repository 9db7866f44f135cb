#include "sweep/accounting.h"

#include <algorithm>

namespace scalelab::sweep {
namespace {

using spec::MixerKind;
constexpr double kBf16 = 2, kFp32 = 4;

// Elements one token leaves for backward in one layer's token mixer.
double mixer_elements(const spec::ModelSpec& m, MixerKind kind) {
  const double d = m.d_model, hd = m.head_dim();
  // Chunked linear attention keeps one H x K x V state per chunk boundary:
  // d * head_dim / chunk elements per token, in fp32 (counted as 2 bf16).
  const double chunk_state = 2 * d * hd / spec::kLinearChunk;
  switch (kind) {
    case MixerKind::Softmax:
      // input of the qkv projection, q, k and v (GQA shrinks k, v), and the
      // attention output that feeds the output projection.
      return d + d + 2.0 * m.kv_heads() * hd + d;
    case MixerKind::Lightning:
      // input, q, k, v, output gate, normalised output, output-projection input.
      return 7 * d + chunk_state;
    case MixerKind::Hgrn2:
      // as lightning plus the forget gate (k = 1 - f is recomputed), and the
      // intra-chunk scores the CUDA kernels keep for the backward (C x C per
      // chunk and head: C per token and head).
      return 8 * d + chunk_state + static_cast<double>(spec::kLinearChunk) * m.n_heads;
    case MixerKind::Mamba2: {
      const double di = m.mamba_d_inner(), ds = m.mamba_d_state;
      const double heads = m.mamba_heads();
      const double state = 2 * heads * ds * m.mamba_head_dim / spec::kLinearChunk;
      // input, in_proj output (z, x, B, C, dt), conv output (x, B, C), y,
      // gated-norm output = out_proj input.
      return d + (2 * di + 2 * ds + heads) + (di + 2 * ds) + di + di + state;
    }
  }
  return 0;
}

}  // namespace

double activation_bytes_per_token(const spec::ModelSpec& model) {
  const double d = model.d_model, f = model.ffn();
  // Per block: two RMSNorm inputs (2d); SwiGLU input, gate and up outputs,
  // silu(gate), and their product that feeds the down projection (d + 4f).
  const double block_common = 2 * d + d + 4 * f;
  double elements = 0;
  for (MixerKind kind : model.layers) elements += block_common + mixer_elements(model, kind);
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
