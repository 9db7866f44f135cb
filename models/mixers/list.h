// The built-in token mixers, one line each, in the order that error messages,
// canonical descriptors and sheet columns list them. Each NAME has a folder
// models/mixers/NAME/ with spec.cpp (spec::builtin::NAME(), torch-free) and
// module.cpp (models::builtin::NAME(), LibTorch); see models/mixers/README.md.
#pragma once

#define SCALELAB_MIXERS(X) \
  X(softmax)               \
  X(lightning)             \
  X(hgrn2)                 \
  X(mamba2)                \
  X(swa)                   \
  X(gdn)
