// Gated DeltaNet's shape from its descriptor fields (gk key head dim, gv value
// expansion, gc conv width), shared by its counts (spec.cpp) and its module.
// heads = h; each head has key dim K = gk and value dim V = gv K, as fla's
// GatedDeltaNet(num_heads, head_dim, expand_v) (no grouped value heads).
#pragma once

#include "models/spec/spec.h"

namespace scalelab::mixers::gdn {

inline int head_dim(const spec::ModelSpec& s) {  // K; 0 before resolve means d_model / heads
  static const int id = spec::field_id("gdn_head_dim");
  return s.field(id);
}
inline int expand_v(const spec::ModelSpec& s) {
  static const int id = spec::field_id("gdn_expand_v");
  return s.field(id);
}
inline int conv(const spec::ModelSpec& s) {
  static const int id = spec::field_id("gdn_conv");
  return s.field(id);
}
inline int64_t value_head_dim(const spec::ModelSpec& s) {
  return int64_t{expand_v(s)} * head_dim(s);
}
inline int64_t key_dim(const spec::ModelSpec& s) { return int64_t{s.n_heads} * head_dim(s); }
inline int64_t value_dim(const spec::ModelSpec& s) { return s.n_heads * value_head_dim(s); }
// Channels of the short causal conv: q, k and v.
inline int64_t conv_dim(const spec::ModelSpec& s) { return 2 * key_dim(s) + value_dim(s); }
// in_proj [d, conv_dim + value_dim + 2 heads] -> (q, k, v | output gate | a, b).
inline int64_t in_proj_out(const spec::ModelSpec& s) {
  return conv_dim(s) + value_dim(s) + 2 * int64_t{s.n_heads};
}

}  // namespace scalelab::mixers::gdn
