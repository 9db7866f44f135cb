// Exact parameter counts and training FLOPs per token: the decoder's own
// tensors here, each mixer's from its registry entry (models/mixers/<name>/
// spec.cpp), which mirrors the LibTorch module one tensor at a time;
// tests/models asserts the module's real parameter count equals
// count_params() for every mixer.
#include "models/spec/spec.h"

namespace scalelab::spec {

int64_t mixer_params(const ModelSpec& s, MixerKind m) { return m->params(s); }

ParamCount count_params(const ModelSpec& in) {
  ModelSpec s = in;
  resolve(s);
  const int64_t d = s.d_model;
  ParamCount c;
  c.embedding = int64_t{s.vocab} * d * (s.tie_embeddings ? 1 : 2);
  // Per block: two RMSNorm weights [d] and SwiGLU W1, W3 [d, ffn], W2 [ffn, d].
  const int64_t block = 2 * d + 3 * d * s.ffn();
  int64_t body = d;  // final RMSNorm
  for (MixerKind m : s.layers) body += block + mixer_params(s, m);
  // What a mixer holds once for all its layers (HGRN2's lower bounds).
  for (MixerKind m : mixers())
    if (m->shared_params && s.count(m) > 0) body += m->shared_params(s, s.count(m));
  c.non_embedding = body;
  c.total = c.embedding + c.non_embedding;
  return c;
}

// Forward FLOPs per token = 2 x (weights multiplied per token) + mixing terms;
// training = 3 x forward (the backward pass computes gradients for inputs and
// weights, 2 x forward: Kaplan et al. 2020, sec. 2.1). Embedding lookup is
// free; the output head (tied or not) is a [d, vocab] matmul. Norms,
// activations, softmax and gating are elementwise and left out, as in Kaplan
// and Chinchilla.
double train_flops_per_token(const ModelSpec& in) {
  ModelSpec s = in;
  resolve(s);
  const double d = s.d_model;
  double fwd = 2.0 * d * s.vocab;
  for (MixerKind m : s.layers) {
    const double swiglu = 3.0 * d * s.ffn();
    fwd += 2.0 * (static_cast<double>(m->matmul_weights(s)) + swiglu) + m->mixing_flops(s);
  }
  return 3.0 * fwd;
}

// 6 N with N the total parameters, as Chinchilla (Hoffmann et al. 2022) counts.
double approx_flops_per_token(const ModelSpec& spec) {
  return 6.0 * static_cast<double>(count_params(spec).total);
}

}  // namespace scalelab::spec
