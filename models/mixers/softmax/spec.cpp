// softmax: Llama-style causal multi-head attention with RoPE and GQA
// (module.h). Counts for the planner; torch-free.
#include "models/spec/spec.h"

namespace scalelab::spec::builtin {

MixerDef softmax() {
  MixerDef m;
  m.name = "softmax";
  m.uses_kv_heads = true;
  m.rope = true;
  m.tiny = "L2:d32:h4:kv2:v64";
  m.params = attention_weights;  // no biases (Llama)
  m.matmul_weights = attention_weights;
  m.mixing_flops = [](const ModelSpec& s) {
    // Per key: q.k costs 2 hd and p*v costs 2 hd per head, 4 d over all
    // heads; a causal token sees (T+1)/2 keys on average (masked blocks are
    // skipped by flash kernels, so they are not counted).
    return 4.0 * s.d_model * mean_causal_span(s.seq_len, s.seq_len);
  };
  m.activation_elements = attention_activation_elements;
  return m;
}

}  // namespace scalelab::spec::builtin
