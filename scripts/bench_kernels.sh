#!/usr/bin/env bash
# One device call: build the CUDA kernels, run their device tests, time our ops
# (bench/kernels/bench_kernels) and the peers (fla chunk_simple_gla / chunk_gla,
# SDPA flash) with the shared bench_peers.py, and print the joined table.
# Needs .debs/ (scripts/device_build.sh) and .peers/ (shared/peers/README.md),
# both carried. Results land in $OUT (or build-gpu/bench-out).
#   scripts/bench_kernels.sh [--no-tests] [--no-peers] [--Ts 1024,...] [--ds 64,128]
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/build-gpu/bench-out}"  # build*/ is git-ignored
mkdir -p "$OUT"
PY="${PY:-/opt/torch/.venv/bin/python}"
TESTS=1 PEERS=1 TS=1024,2048,4096,8192,16384,32768 DS=64,128 PEER_DEADLINE=${PEER_DEADLINE:-300}
while [ $# -gt 0 ]; do
  case "$1" in
    --no-tests) TESTS=0 ;;
    --no-peers) PEERS=0 ;;
    --Ts) TS="$2"; shift ;;
    --ds) DS="$2"; shift ;;
    *) echo "bench_kernels.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

export BUILD_DIR="${BUILD_DIR:-build-gpu}" LOG_DIR="$OUT"
SKIP_TESTS=1 scripts/device_build.sh scalelab_kernels_cuda_tests bench_kernels || exit 1
if [ "$TESTS" = 1 ]; then
  "$BUILD_DIR/tests/kernels_cuda/scalelab_kernels_cuda_tests" --gtest_brief=1 2>&1 | tee "$OUT/tests.log" | tail -30
fi
"$BUILD_DIR/bench/kernels/bench_kernels" --ds "$DS" --Ts "$TS" --json "$OUT/ours.json" 2>&1 | tee "$OUT/ours.log"

if [ "$PEERS" = 1 ] && [ -d .peers/fla ]; then
  mkdir -p /tmp/tc && tar -xzf .peers/triton_autotune_h100.tgz -C /tmp/tc && export TRITON_CACHE_DIR=/tmp/tc
  PYTHONUNBUFFERED=1 OUT="$OUT" "$PY" .peers/bench_peers.py graph --ops fla_simple_gla_g,fla_gla,sdpa_flash \
    --ds "$DS" --Ts "$TS" --deadline "$PEER_DEADLINE" > "$OUT/peers.log" 2>&1
  tail -5 "$OUT/peers.log"
fi
"$PY" bench/kernels/compare.py "$OUT/ours.json" "$OUT/results_kernels_graph.json" | tee "$OUT/table.md"
