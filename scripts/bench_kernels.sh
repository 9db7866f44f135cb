#!/usr/bin/env bash
# One device call: build the CUDA kernels, run their device tests, time our ops
# (bench/kernels/bench_kernels) and the peers (fla chunk_simple_gla / chunk_gla,
# SDPA flash) with the shared bench_peers.py, and print the joined table.
# Needs .debs/ (scripts/device_build.sh) and .peers/ (shared/peers/README.md),
# both carried. Results land in $OUT (or build-gpu/bench-out).
#   scripts/bench_kernels.sh [--no-tests] [--no-peers] [--Ts 1024,...] [--ds 64,128]
#                            [--prebuilt DIR] [--ncu T,d] [--families scalar,vector,gdn]
#                            [--peer-ops fla_simple_gla_g,fla_gla,sdpa_flash] [--tests-filter GLOB]
# --prebuilt DIR: use the binaries already built in DIR (e.g. built here
# against the same torch and carried), skipping the device build.
# --ncu T,d: also print each kernel's duration for one fwd+bwd at that shape.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/build-gpu/bench-out}"  # build*/ is git-ignored
mkdir -p "$OUT"
PY="${PY:-/opt/torch/.venv/bin/python}"
TESTS=1 PEERS=1 PREBUILT= NCU= TS=1024,2048,4096,8192,16384,32768 DS=64,128 PEER_DEADLINE=${PEER_DEADLINE:-300}
FAMILIES=scalar,vector PEER_OPS=fla_simple_gla_g,fla_gla,sdpa_flash TESTS_FILTER='*' 
while [ $# -gt 0 ]; do
  case "$1" in
    --no-tests) TESTS=0 ;;
    --no-peers) PEERS=0 ;;
    --Ts) TS="$2"; shift ;;
    --ds) DS="$2"; shift ;;
    --prebuilt) PREBUILT="$2"; shift ;;
    --ncu) NCU="$2"; shift ;;
    --families) FAMILIES="$2"; shift ;;
    --peer-ops) PEER_OPS="$2"; shift ;;
    --tests-filter) TESTS_FILTER="$2"; shift ;;
    *) echo "bench_kernels.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

if [ -n "$PREBUILT" ]; then
  export BUILD_DIR="$PREBUILT"
  export LD_LIBRARY_PATH="$("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  export BUILD_DIR="${BUILD_DIR:-build-gpu}" LOG_DIR="$OUT"
  SKIP_TESTS=1 scripts/device_build.sh scalelab_kernels_cuda_tests bench_kernels || exit 1
fi
if [ "$TESTS" = 1 ]; then
  "$BUILD_DIR/tests/kernels_cuda/scalelab_kernels_cuda_tests" --gtest_brief=1 --gtest_filter="$TESTS_FILTER" 2>&1 | tee "$OUT/tests.log" | tail -30
fi
"$BUILD_DIR/bench/kernels/bench_kernels" --families "$FAMILIES" --ds "$DS" --Ts "$TS" --json "$OUT/ours.json" 2>&1 | tee "$OUT/ours.log"

if [ -n "$NCU" ]; then
  ncu --clock-control none --metrics gpu__time_duration.sum "$BUILD_DIR/bench/kernels/bench_kernels" --families "$FAMILIES" \
    --Ts "${NCU%,*}" --ds "${NCU#*,}" --warmup 0 --iters 1 --timing events > "$OUT/ncu.log" 2>&1
  "$PY" bench/kernels/ncu_summary.py "$OUT/ncu.log" | tee "$OUT/ncu.md"
fi

if [ "$PEERS" = 1 ] && [ -d .peers/fla ]; then
  mkdir -p /tmp/tc && tar -xzf .peers/triton_autotune_h100.tgz -C /tmp/tc && export TRITON_CACHE_DIR=/tmp/tc
  PYTHONUNBUFFERED=1 OUT="$OUT" "$PY" .peers/bench_peers.py graph --ops "$PEER_OPS" \
    --ds "$DS" --Ts "$TS" --deadline "$PEER_DEADLINE" > "$OUT/peers.log" 2>&1
  tail -5 "$OUT/peers.log"
fi
"$PY" bench/kernels/compare.py "$OUT/ours.json" "$OUT/results_kernels_graph.json" | tee "$OUT/table.md"
