#!/usr/bin/env bash
# Builds scalelab on a bare GPU machine and runs its tests (the recipe of
# shared/device/NOTES.md). The machine has nvcc, CMake, Ninja and python torch
# but no -dev packages and no registry: the .debs travel in .debs/ (fetch them
# with `apt-get download` into that git-ignored folder) and are unpacked into a
# prefix, never into /.
#
#   scripts/device_build.sh [cmake targets...]     (default: everything)
# Env: BUILD_DIR (build-gpu), DEPS (/tmp/deps), CTEST_REGEX (all tests),
#      LOG_DIR ($OUT or $BUILD_DIR/logs), SKIP_TESTS=1 to only build.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build-gpu}"
DEPS="${DEPS:-/tmp/deps}"
LOG_DIR="${LOG_DIR:-${OUT:-$ROOT/$BUILD_DIR/logs}}"
PY="${PY:-/opt/torch/.venv/bin/python}"
mkdir -p "$DEPS" "$LOG_DIR"

ls .debs/*.deb >/dev/null 2>&1 || { echo "device_build: no .debs/*.deb (see header)" >&2; exit 2; }
for f in .debs/*.deb; do dpkg -x "$f" "$DEPS"; done
LIBDIR="$DEPS/usr/lib/x86_64-linux-gnu"
export LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ! command -v pkg-config >/dev/null; then
  export PATH="$DEPS/usr/bin:$PATH"
  [ -x "$DEPS/usr/bin/pkg-config" ] || ln -sf pkgconf "$DEPS/usr/bin/pkg-config"
fi
# The .pc files say prefix=/usr: the sysroot maps them into the prefix.
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig:$DEPS/usr/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$DEPS"

TP="$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  nvcc --version | tail -2
  "$PY" -c 'import torch; print("torch", torch.__version__)'
} 2>&1 | tee "$LOG_DIR/device_env.log"

start=$(date +%s)
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$TP;$DEPS/usr" -DCMAKE_LIBRARY_PATH="$LIBDIR" \
  -DCMAKE_INCLUDE_PATH="$DEPS/usr/include" -DCMAKE_CUDA_ARCHITECTURES=90a \
  >"$LOG_DIR/configure.log" 2>&1 || { tail -40 "$LOG_DIR/configure.log"; exit 1; }
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$BUILD_DIR" -j"$(nproc)" "${targets[@]}" >"$LOG_DIR/build.log" 2>&1 \
  || { grep -E "error|FAILED" "$LOG_DIR/build.log" | head -40; exit 1; }
echo "device_build: built in $(( $(date +%s) - start )) s"

if [ "${SKIP_TESTS:-0}" != 1 ]; then
  ctest --test-dir "$BUILD_DIR" --output-on-failure ${CTEST_REGEX:+-R "$CTEST_REGEX"} \
    >"$LOG_DIR/ctest.log" 2>&1 && status=0 || status=$?
  tail -25 "$LOG_DIR/ctest.log"
  exit $status
fi
