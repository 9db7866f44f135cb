// Sliding-window attention's one field: the window w (keys a query sees, its
// own included), shared by its counts (spec.cpp) and its module.
#pragma once

#include "models/spec/spec.h"

namespace scalelab::mixers::swa {

inline int window(const spec::ModelSpec& s) {
  static const int id = spec::field_id("swa_window");
  return s.field(id);
}

}  // namespace scalelab::mixers::swa
