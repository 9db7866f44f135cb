#!/usr/bin/env bash
# The torch-free CPU tests under AddressSanitizer + UndefinedBehaviorSanitizer
# (clang, CMakePresets.json `asan`, build-asan/), then each libFuzzer target
# for FUZZ_SECONDS (60) from its seed corpus:  scripts/sanitize.sh
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$SCALELAB_ROOT"
B="${SCALELAB_BUILD_ASAN:-$SCALELAB_ROOT/build-asan}"
start=$(date +%s)
cmake --preset asan >/dev/null  # cheap; picks up preset changes
cmake --build "$B" -j"$(nproc)"
echo "sanitize: asan build took $(( $(date +%s) - start )) s"
start=$(date +%s)
ctest --preset asan -j"$(nproc)"
echo "sanitize: asan tests took $(( $(date +%s) - start )) s"
start=$(date +%s)
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
echo "sanitize: fuzzing took $(( $(date +%s) - start )) s"
