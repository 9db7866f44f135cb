// lightning: linear attention with a fixed per-head decay (MiniMax-01's
// layer, module.h). Counts for the planner; torch-free.
#include "models/spec/spec.h"

namespace scalelab::spec::builtin {

namespace {

// Fused Wqkv [d, 3d], output gate Wg [d, d], Wo [d, d] (MiniMax-01).
int64_t weights(const ModelSpec& s) { return 5 * int64_t{s.d_model} * s.d_model; }

}  // namespace

MixerDef lightning() {
  MixerDef m;
  m.name = "lightning";
  m.tiny = "L2:d32:h4:v64";
  m.params = [](const ModelSpec& s) { return weights(s) + s.d_model; };  // + output RMSNorm [d]
  m.matmul_weights = weights;
  m.mixing_flops = [](const ModelSpec& s) {
    return chunked_linear_flops(s.seq_len, s.n_heads, s.head_dim(), s.head_dim());
  };
  m.activation_elements = [](const ModelSpec& s) {
    // As the trainer keeps them: the projections' input, the q|k|v
    // projection (the op reads q, k, v from it and applies the SiLU as it
    // loads, so no separate copies), the fp32 decay and its cumsum (per
    // head), the op's output and the output gate (the gated norm's inputs),
    // the output projection's input, and the per-chunk states. Measured on an
    // H200 (bench/RESULTS.md): 0.93x of this at L12 d768 B16, 0.96x at L6.
    return 7.0 * s.d_model + 4.0 * s.n_heads +
           chunk_state_elements(s.n_heads, s.head_dim(), s.head_dim());
  };
  return m;
}

}  // namespace scalelab::spec::builtin
