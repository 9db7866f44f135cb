// Exact parameter counts and training FLOPs per token. Each count mirrors the
// LibTorch module in models/ one tensor at a time; tests/models asserts the
// module's real parameter count equals count_params() for every mixer.
#include <algorithm>

#include "models/spec/spec.h"

namespace scalelab::spec {

namespace {

// Weights of the mixer's matrix multiplies (what a token's forward pass
// multiplies with: 2 FLOPs per weight), excluding norms, biases and the
// per-head scalars. Shared by count_params and the FLOP count.
int64_t mixer_matmul_weights(const ModelSpec& s, MixerKind m) {
  const int64_t d = s.d_model;
  switch (m) {
    case MixerKind::Softmax: {
      // Wq [d, h*hd], Wk and Wv [d, kv*hd], Wo [h*hd, d]; h*hd == d.
      const int64_t kv = int64_t{s.kv_heads()} * s.head_dim();
      return 2 * d * d + 2 * d * kv;
    }
    case MixerKind::Lightning:
      // Fused Wqkv [d, 3d], output gate Wg [d, d], Wo [d, d] (MiniMax-01).
      return 5 * d * d;
    case MixerKind::Hgrn2:
      // Wq (HGRN's output gate), Wf (forget gate), Wi (input), Wo: all [d, d].
      return 4 * d * d;
    case MixerKind::Mamba2: {
      // in_proj [d, 2 d_inner + 2 d_state + heads] -> (z, x, B, C, dt), one
      // group; depthwise conv over (x, B, C) with width mamba_conv;
      // out_proj [d_inner, d].
      const int64_t di = s.mamba_d_inner(), n = s.mamba_d_state, nh = s.mamba_heads();
      const int64_t conv_dim = di + 2 * n;
      return d * (2 * di + 2 * n + nh) + conv_dim * s.mamba_conv + di * d;
    }
  }
  return 0;
}

}  // namespace

int64_t mixer_params(const ModelSpec& s, MixerKind m) {
  const int64_t d = s.d_model;
  switch (m) {
    case MixerKind::Softmax:
      return mixer_matmul_weights(s, m);  // no biases (Llama)
    case MixerKind::Lightning:
    case MixerKind::Hgrn2:
      return mixer_matmul_weights(s, m) + d;  // + output RMSNorm weight [d]
    case MixerKind::Mamba2: {
      const int64_t di = s.mamba_d_inner(), nh = s.mamba_heads();
      const int64_t conv_bias = di + 2 * int64_t{s.mamba_d_state};
      // + conv bias, dt_bias / A_log / D [heads], gated RMSNorm weight [d_inner].
      return mixer_matmul_weights(s, m) + conv_bias + 3 * nh + di;
    }
  }
  return 0;
}

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
  // HGRN2's layer-wise lower bounds: one [d] row per hgrn2 layer, held by the
  // model and normalised across layers (softmax + cumsum).
  body += int64_t{s.count(MixerKind::Hgrn2)} * d;
  c.non_embedding = body;
  c.total = c.embedding + c.non_embedding;
  return c;
}

namespace {

// Mean number of earlier-or-same positions a token attends to inside blocks
// of length `block` over a sequence of length t (causal): block >= t gives
// (t+1)/2, the softmax case.
double mean_causal_span(int64_t t, int64_t block) {
  block = std::min(block, t);
  const int64_t full = t / block, rest = t % block;
  const double sum = static_cast<double>(full) * block * (block + 1) / 2.0 +
                     static_cast<double>(rest) * (rest + 1) / 2.0;
  return sum / static_cast<double>(t);
}

// Forward FLOPs per token of the sequence mixing itself (no weights).
double mixing_flops(const ModelSpec& s, MixerKind m) {
  if (m == MixerKind::Softmax) {
    // Per key: q.k costs 2 hd and p*v costs 2 hd per head, 4 d over all
    // heads; a causal token sees (T+1)/2 keys on average (masked blocks are
    // skipped by flash kernels, so they are not counted).
    return 4.0 * s.d_model * mean_causal_span(s.seq_len, s.seq_len);
  }
  double heads, k, v;
  if (m == MixerKind::Mamba2) {
    heads = s.mamba_heads();
    k = s.mamba_d_state;
    v = s.mamba_head_dim;
  } else {
    heads = s.n_heads;
    k = v = s.head_dim();
  }
  // Chunked form with chunk C (Lightning Attention-2, SSD): per head and token,
  //   intra-chunk q.k over the causal span c (2 K c) and weights * v (2 V c),
  //   inter-chunk q^T S (2 K V), and the chunk's contribution K_c^T V_c to the
  //   state (2 K V per token). Decays and gates are elementwise: not counted.
  const double c = mean_causal_span(s.seq_len, kLinearChunk);
  return heads * (2.0 * (k + v) * c + 4.0 * k * v);
}

}  // namespace

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
    fwd += 2.0 * (static_cast<double>(mixer_matmul_weights(s, m)) + swiglu) + mixing_flops(s, m);
  }
  return 3.0 * fwd;
}

// 6 N with N the total parameters, as Chinchilla (Hoffmann et al. 2022) counts.
double approx_flops_per_token(const ModelSpec& spec) {
  return 6.0 * static_cast<double>(count_params(spec).total);
}

}  // namespace scalelab::spec
