// mamba2: SSD with one group (module.h). Fields, checks and counts for the
// planner; torch-free.
#include "models/mixers/mamba2/shape.h"

namespace scalelab::spec::builtin {

namespace {

namespace m2 = mixers::mamba2;

// in_proj [d, 2 d_inner + 2 d_state + heads] -> (z, x, B, C, dt), one group;
// depthwise conv over (x, B, C) with width mamba_conv; out_proj [d_inner, d].
int64_t weights(const ModelSpec& s) {
  const int64_t d = s.d_model, di = m2::d_inner(s), n = m2::d_state(s), nh = m2::heads(s);
  const int64_t conv_dim = di + 2 * n;
  return d * (2 * di + 2 * n + nh) + conv_dim * m2::conv(s) + di * d;
}

void check(ModelSpec& s) {
  if (m2::d_inner(s) % m2::head_dim(s) != 0)
    throw SpecError("mamba_head_dim", "mamba_head_dim (" + std::to_string(m2::head_dim(s)) +
                                          ") must divide the mamba2 inner width (expand " +
                                          std::to_string(m2::expand(s)) + " x d_model " +
                                          std::to_string(s.d_model) + " = " +
                                          std::to_string(m2::d_inner(s)) + ")");
}

}  // namespace

MixerDef mamba2() {
  MixerDef m;
  m.name = "mamba2";
  m.fields = {{"ds", "mamba_d_state", 64, 1},
              {"ex", "mamba_expand", 2, 1},
              {"hd", "mamba_head_dim", 64, 1},
              {"dc", "mamba_conv", 4, 1}};
  m.head_dim_from_heads = false;  // heads come from d_inner / mamba_head_dim
  m.tiny = "L2:d32:v64:ds8:hd16";
  m.resolve = check;
  m.params = [](const ModelSpec& s) {
    const int64_t di = m2::d_inner(s), nh = m2::heads(s);
    const int64_t conv_bias = di + 2 * int64_t{m2::d_state(s)};
    // + conv bias, dt_bias / A_log / D [heads], gated RMSNorm weight [d_inner].
    return weights(s) + conv_bias + 3 * nh + di;
  };
  m.matmul_weights = weights;
  m.mixing_flops = [](const ModelSpec& s) {
    // SSD as linear attention: mamba_heads heads, K = d_state, V = head_dim.
    return chunked_linear_flops(s.seq_len, m2::heads(s), m2::d_state(s), m2::head_dim(s));
  };
  m.activation_elements = [](const ModelSpec& s) {
    const double d = s.d_model, di = m2::d_inner(s), ds = m2::d_state(s), heads = m2::heads(s);
    // input, in_proj output (z, x, B, C, dt), conv output (x, B, C), y,
    // gated-norm output = out_proj input, and the per-chunk states.
    return d + (2 * di + 2 * ds + heads) + (di + 2 * ds) + di + di +
           chunk_state_elements(heads, ds, m2::head_dim(s));
  };
  return m;
}

}  // namespace scalelab::spec::builtin
