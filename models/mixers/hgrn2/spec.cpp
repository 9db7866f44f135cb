// hgrn2: gated linear attention with a per-key-dim forget gate and a
// layer-wise lower bound (module.h). Counts for the planner; torch-free.
#include "models/spec/spec.h"

namespace scalelab::spec::builtin {

namespace {

// Wq (HGRN's output gate), Wf (forget gate), Wi (input), Wo: all [d, d].
int64_t weights(const ModelSpec& s) { return 4 * int64_t{s.d_model} * s.d_model; }

}  // namespace

MixerDef hgrn2() {
  MixerDef m;
  m.name = "hgrn2";
  m.tiny = "L2:d32:h4:v64";
  m.params = [](const ModelSpec& s) { return weights(s) + s.d_model; };  // + output RMSNorm [d]
  m.matmul_weights = weights;
  m.mixing_flops = [](const ModelSpec& s) {
    return chunked_linear_flops(s.seq_len, s.n_heads, s.head_dim(), s.head_dim());
  };
  m.activation_elements = [](const ModelSpec& s) {
    // As lightning plus the forget gate (k = 1 - f is recomputed), and the
    // intra-chunk scores the CUDA kernels keep for the backward (C x C per
    // chunk and head: C per token and head).
    return 8.0 * s.d_model + chunk_state_elements(s.n_heads, s.head_dim(), s.head_dim()) +
           static_cast<double>(kLinearChunk) * s.n_heads;
  };
  // The layer-wise lower bounds: one [d] row per hgrn2 layer, held by the
  // model and normalised across layers (softmax + cumsum).
  m.shared_params = [](const ModelSpec& s, int n_layers) { return int64_t{n_layers} * s.d_model; };
  return m;
}

}  // namespace scalelab::spec::builtin
