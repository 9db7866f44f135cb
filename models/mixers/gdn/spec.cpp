// gdn: Gated DeltaNet (Yang, Kautz & Hatamizadeh 2024, arXiv:2412.06464) as
// fla's GatedDeltaNet layer builds it (module.h). Fields, checks and counts
// for the planner; torch-free.
#include "models/mixers/gdn/shape.h"

namespace scalelab::spec::builtin {

namespace {

namespace g = mixers::gdn;

// in_proj [d, 2 H K + 2 H V + 2 H]: fla's q, k, v, g (output gate), a and b
// projections side by side; the depthwise conv over q, k, v (width gc, no
// bias: fla's conv_bias=False); o_proj [H V, d].
int64_t weights(const ModelSpec& s) {
  const int64_t d = s.d_model;
  return d * g::in_proj_out(s) + g::conv_dim(s) * g::conv(s) + g::value_dim(s) * d;
}

// gk 0 means d_model / heads; the canonical form holds the explicit value.
void resolve(ModelSpec& s) {
  if (g::head_dim(s) != 0) return;
  if (s.d_model % s.n_heads != 0)
    throw SpecError("heads", "heads (" + std::to_string(s.n_heads) + ") must divide d_model (" +
                                 std::to_string(s.d_model) + ") unless gdn_head_dim is given");
  s.set_field("gdn_head_dim", s.d_model / s.n_heads);
}

// Mean FLOPs per token of inverting the unit lower-triangular I + A of each
// chunk (forward substitution: n(n-1)(n-2)/6 multiply-adds for n x n).
double solve_flops(int64_t t) {
  const int64_t c = std::min<int64_t>(kLinearChunk, t), full = t / c, rest = t % c;
  auto cost = [](double n) { return n * (n - 1) * (n - 2) / 3.0; };
  return (static_cast<double>(full) * cost(c) + cost(rest)) / static_cast<double>(t);
}

}  // namespace

MixerDef gdn() {
  MixerDef m;
  m.name = "gdn";
  // fla's defaults: head_dim 256 (here d_model / heads), expand_v 2, conv 4.
  m.fields = {{"gk", "gdn_head_dim", 0, 0}, {"gv", "gdn_expand_v", 2, 1}, {"gc", "gdn_conv", 4, 1}};
  m.head_dim_from_heads = false;  // the key head dim is gdn_head_dim
  m.tiny = "L2:d32:h4:v64";
  m.resolve = resolve;
  // + A_log and dt_bias [H], and the gated RMSNorm weight [V] (shared by the
  // heads, as fla's FusedRMSNormGated(head_v_dim)).
  m.params = [](const ModelSpec& s) {
    return weights(s) + 2 * int64_t{s.n_heads} + g::value_head_dim(s);
  };
  m.matmul_weights = weights;
  m.mixing_flops = [](const ModelSpec& s) {
    // Chunked WY form (kernels/delta_rule/chunk.cpp), per head and token with
    // c the mean causal span inside chunks of C = kLinearChunk:
    //   A = beta K K^T . Gamma (strictly lower)         2 K c
    //   W = T (K . e^b), U = T V   (T = (I + A)^-1 beta) 2 K c + 2 V c
    //   v_new = U - W S                                2 K V
    //   o = (Q . e^b) S + (Q K^T . Gamma) v_new         2 K V + 2 K c + 2 V c
    //   S' = e^{b_C} S + (K . e^{b_C - b})^T v_new      2 K V
    // plus the triangular solve; gates, L2 norms and beta are elementwise.
    const double h = s.n_heads, k = g::head_dim(s), v = static_cast<double>(g::value_head_dim(s));
    const double c = mean_causal_span(s.seq_len, kLinearChunk);
    return h * (2.0 * c * (3 * k + 2 * v) + 6.0 * k * v + solve_flops(s.seq_len));
  };
  m.activation_elements = [](const ModelSpec& s) {
    const double d = s.d_model, h = s.n_heads, kd = static_cast<double>(g::key_dim(s));
    const double vd = static_cast<double>(g::value_dim(s));
    // input, in_proj output, conv output (q, k, v), L2-normalised q and k, the
    // op's output, the gated-norm output (= o_proj input), what the CUDA
    // kernels keep for their backward (W and u = v_new: kd + vd; the
    // per-chunk states and the chunks' C x C inverses, C per token and head).
    return d + static_cast<double>(g::in_proj_out(s)) + static_cast<double>(g::conv_dim(s)) +
           2 * kd + vd + vd + kd + vd +
           chunk_state_elements(h, g::head_dim(s), static_cast<double>(g::value_head_dim(s))) +
           static_cast<double>(kLinearChunk) * h;
  };
  return m;
}

}  // namespace scalelab::spec::builtin
