// swa: softmax attention restricted to a causal window of w keys (Gemma 3,
// Mistral; module.h). Same weights as softmax; the mixing FLOPs use the
// window span. Torch-free.
#include "models/mixers/swa/shape.h"

namespace scalelab::spec::builtin {

MixerDef swa() {
  MixerDef m;
  m.name = "swa";
  // Gemma 3's local layers use 1024.
  m.fields = {{"w", "swa_window", 1024, 1}};
  m.uses_kv_heads = true;
  m.rope = true;
  // A window shorter than the tests' sequences, so the band is exercised.
  m.tiny = "L2:d32:h4:kv2:v64:w16";
  m.params = attention_weights;
  m.matmul_weights = attention_weights;
  m.mixing_flops = [](const ModelSpec& s) {
    // As softmax (4 d per key: q.k and p.v over all heads), but a token sees
    // min(t+1, w) keys: the band only, masked blocks skipped.
    return 4.0 * s.d_model * mean_window_span(s.seq_len, mixers::swa::window(s));
  };
  m.activation_elements = attention_activation_elements;
  return m;
}

}  // namespace scalelab::spec::builtin
