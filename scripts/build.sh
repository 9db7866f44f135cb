#!/usr/bin/env bash
# Configures (first time) and builds into build/; extra args go to cmake --build.
set -euo pipefail
source "$(dirname "$0")/env.sh"
if [ ! -f "$SCALELAB_BUILD/build.ninja" ]; then
  cmake -S "$SCALELAB_ROOT" -B "$SCALELAB_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$(torch_prefix)" ${SCALELAB_CMAKE_ARGS:-}
fi
cmake --build "$SCALELAB_BUILD" -j"$(nproc)" "$@"
