#!/usr/bin/env bash
# Setup if needed, build, run every test.
set -euo pipefail
here="$(dirname "$0")"
bash "$here/setup.sh"
source "$here/env.sh"
start=$(date +%s)
bash "$here/build.sh"
echo "test: build took $(( $(date +%s) - start )) s"
ctest --test-dir "$SCALELAB_BUILD" --output-on-failure -j"$(nproc)" --timeout 900
