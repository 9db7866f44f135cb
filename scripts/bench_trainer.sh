#!/usr/bin/env bash
# One device call for the GPU trainer: its device tests, bench_trainer on the
# issue's two models for every mixer, and the PyTorch peers of the same models
# (shared/peers/bench_peers.py train_eager / train_compile --model llama) in
# the same call, then the joined table (bench/trainer/compare.py).
#   scripts/bench_trainer.sh --prebuilt DIR [--no-tests] [--peers none|eager|all]
#                            [--profile] [--peer-profile] [--sizes small,base] [--e2e]
# --e2e: also `scalelab plan` + `run --gpus 0` a sheet of every mixer at the
# base size on llm.c-format shards generated here (per-run tokens/s, MFU,
# start-up and peak memory from runs.perf), and bench_stall (loader vs fixed
# batch) when DIR has it.
# DIR: made here by scripts/device_prebuilt.sh (binaries + runtime libraries).
# .peers/ (shared/peers/README.md) must be carried for the peers. Results go to
# $OUT (or build-gpu/bench-out).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/build-gpu/bench-out}"
mkdir -p "$OUT"
PY="${PY:-/opt/torch/.venv/bin/python}"
PREBUILT= TESTS=1 PEERS=all PROFILE=0 PEER_PROFILE=0 SIZES=base,small E2E=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prebuilt) PREBUILT="$2"; shift ;;
    --no-tests) TESTS=0 ;;
    --peers) PEERS="$2"; shift ;;
    --profile) PROFILE=1 ;;
    --peer-profile) PEER_PROFILE=1 ;;
    --sizes) SIZES="$2"; shift ;;
    --e2e) E2E=1 ;;
    *) echo "bench_trainer.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$PREBUILT" ] || { echo "bench_trainer.sh: --prebuilt DIR is required" >&2; exit 2; }
BIN="$(cd "$PREBUILT/bin" && pwd)"
export LD_LIBRARY_PATH="$("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib:$(cd "$PREBUILT/lib" && pwd):/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The test binaries read tests/golden from the source dir they were configured in.
src="$(strings "$BIN/test_train" | grep -m1 -o '/[^ ]*/tests/golden' | sed 's#/tests/golden##')"
[ -n "$src" ] && [ ! -e "$src" ] && mkdir -p "$(dirname "$src")" && ln -s "$ROOT" "$src"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/device.txt"
status=0
if [ "$TESTS" = 1 ]; then
  OMP_NUM_THREADS=4 "$BIN/scalelab_kernels_cuda_tests" --gtest_brief=1 2>&1 | tee "$OUT/tests_kernels.log" | tail -4
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
  OMP_NUM_THREADS=4 "$BIN/test_train" --gtest_filter='GpuStep*:TrainerGolden*' 2>&1 | tee "$OUT/tests_train.log" | grep -E "worst|OK|FAIL|Failure" | head -30
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi

declare -A SIZE=(
  [base]="--d-model 768 --layers 12 --heads 12 --seq 1024 --batch 16"
  [small]="--d-model 384 --layers 6 --heads 6 --seq 1024 --batch 32"
)
declare -A HYBRID=([base]="hybrid(lightning,softmax@3:1)" [small]="hybrid(lightning,softmax@2:1)")
J="$OUT/ours.jsonl"
: > "$J"
for size in ${SIZES//,/ }; do
  for arch in softmax lightning hgrn2 mamba2 "${HYBRID[$size]}" ${EXTRA_ARCHS:-}; do
    "$BIN/bench_trainer" --arch "$arch" ${SIZE[$size]} --label "$size" --json "$J" 2>&1 | tee -a "$OUT/ours.log"
  done
  "$BIN/bench_trainer" --arch softmax ${SIZE[$size]} --graph off --label "$size" --json "$J" 2>&1 | tee -a "$OUT/ours.log"
  if [ "$PROFILE" = 1 ]; then
    for arch in ${PROFILE_ARCHS:-softmax mamba2}; do
      "$BIN/bench_trainer" --arch $arch ${SIZE[$size]} --steps 5 --profile ${PROFILE_FLAGS:-} 2>&1 | tee -a "$OUT/profile.log"
    done
  fi
done

if [ "$E2E" = 1 ]; then
  work="$(mktemp -d)"
  # Zipf-distributed token ids in llm.c's .bin layout (256 x int32 header:
  # magic 20240520, version 1, count; uint16 tokens): real shards, made fast.
  "$PY" - "$work/shards" <<'PYEOF'
import os, sys, numpy as np
out = sys.argv[1]; os.makedirs(out)
rng = np.random.default_rng(0)
for name, n in (('synthetic_train_000000.bin', 24_000_000), ('synthetic_val_000000.bin', 1_000_000)):
    tok = np.minimum(rng.zipf(1.2, n) - 1, 31999).astype(np.uint16)
    head = np.zeros(256, np.int32); head[:3] = (20240520, 1, n)
    with open(os.path.join(out, name), 'wb') as f:
        f.write(head.tobytes()); f.write(tok.tobytes())
PYEOF
  cat > "$work/e2e.csv" <<CSV
name,arch,layers,d_model,heads,vocab,seq_len,tokens,batch_tokens,lr,warmup,eval_every,eval_tokens,data
e2e,"softmax|lightning|hgrn2|mamba2|hybrid(lightning,softmax@3:1)",12,768,12,32000,1024,1638400,16384,6e-4,8,50,65536,shards:$work/shards
CSV
  (cd "$work" && "$BIN/scalelab" --db e2e.db plan e2e.csv && "$BIN/scalelab" --db e2e.db run --gpus 0) \
    2>&1 | grep -v " step [0-9]*/" | tail -12 | tee "$OUT/e2e.log"
  "$PY" - "$work/e2e.db" <<'PYEOF' | tee -a "$OUT/e2e.log"
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print('arch | status | tok/s | MFU | start-up s | peak GiB | planner GiB | ratio | eval s | graph')
for arch, st, perf, err in c.execute('select arch, status, perf, error from runs order by arch'):
    p = json.loads(perf or '{}')
    pk, est = p.get('peak_memory_bytes', 0), p.get('memory_estimate_bytes', 1)
    print(f"{arch} | {st} | {p.get('tokens_per_s', 0):,.0f} | {100 * p.get('mfu', 0):.1f}% | "
          f"{p.get('startup_s', 0):.2f} | {pk / 2**30:.2f} | {est / 2**30:.2f} | {pk / est:.2f} | "
          f"{p.get('eval_s', 0):.2f} | {p.get('cuda_graph')} {err[:200] if err else ''}")
    phases = p.get('startup_phases_s') or {}
    print(f"  {arch} start-up phases (s since process start): " +
          ", ".join(f"{k} {v:.2f}" for k, v in sorted(phases.items(), key=lambda kv: kv[1])))
PYEOF
  if [ -x "$BIN/bench_stall" ]; then
    "$BIN/bench_stall" "shards:$work/shards" softmax:L12:d768:h12:v32000:T1024 16 50 2>&1 | tail -4 | tee -a "$OUT/e2e.log"
  fi
fi

if [ -f .peers/bench_peers.py ] && [ "$PEERS" != none ]; then
  mkdir -p /tmp/tc && tar -xzf .peers/triton_autotune_h100.tgz -C /tmp/tc && export TRITON_CACHE_DIR=/tmp/tc
  modes=(train_eager); [ "$PEERS" = all ] && modes+=(train_compile)
  for size in ${SIZES//,/ }; do
    for mixer in softmax lightning; do
      for mode in "${modes[@]}"; do
        PYTHONUNBUFFERED=1 OUT="$OUT" timeout 300 "$PY" .peers/bench_peers.py "$mode" --model llama \
          --mixer $mixer ${SIZE[$size]} 2>&1 | grep -E "step|Error|error" | tail -2 | tee -a "$OUT/peers.log"
      done
    done
  done
fi
if [ "$PEER_PROFILE" = 1 ] && [ -f .peers/bench_peers.py ]; then
  for size in ${SIZES//,/ }; do
    "$PY" bench/trainer/profile_peer.py .peers/bench_peers.py --mixer softmax ${SIZE[$size]} --compile \
      2>&1 | grep -v Warning | tee -a "$OUT/profile.log" | head -30
  done
fi
"$PY" bench/trainer/compare.py "$J" "$OUT" | tee "$OUT/table.md"
# At most 8 files come back from a device call: everything else in one archive.
(cd "$OUT" && tar -czf logs.tgz --exclude logs.tgz * && find . -maxdepth 1 -type f ! -name logs.tgz ! -name table.md ! -name ours.jsonl -delete)
exit $status
