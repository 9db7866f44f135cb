// Mamba2's shape from its descriptor fields (ds d_state, ex expand, hd head
// dim, dc conv width), shared by its counts (spec.cpp) and its module.
#pragma once

#include "models/spec/spec.h"

namespace scalelab::mixers::mamba2 {

inline int d_state(const spec::ModelSpec& s) {
  static const int id = spec::field_id("mamba_d_state");
  return s.field(id);
}
inline int expand(const spec::ModelSpec& s) {
  static const int id = spec::field_id("mamba_expand");
  return s.field(id);
}
inline int head_dim(const spec::ModelSpec& s) {
  static const int id = spec::field_id("mamba_head_dim");
  return s.field(id);
}
inline int conv(const spec::ModelSpec& s) {
  static const int id = spec::field_id("mamba_conv");
  return s.field(id);
}
// d_inner = expand * d_model, heads = d_inner / head_dim.
inline int d_inner(const spec::ModelSpec& s) { return expand(s) * s.d_model; }
inline int heads(const spec::ModelSpec& s) { return d_inner(s) / head_dim(s); }

}  // namespace scalelab::mixers::mamba2
