#!/usr/bin/env bash
# One device call for the gated delta rule (issue #18), from binaries built
# here and packed by `scripts/device_prebuilt.sh .devcarry scalelab
# scalelab_kernels_cuda_tests bench_kernels` (carry .devcarry and .peers):
#   1. the device tests (GDN, plus the shared scalar-decay cases whose dq/dk
#      kernel the GDN backward extends), dumping each GDN case's inputs;
#   2. fla chunk_gated_delta_rule's errors on those very inputs
#      (bench/kernels/gdn_fla_errors.py);
#   3. our fwd / fwd+bwd timings and fla's (bench_peers.py graph) in this call,
#      joined by bench/kernels/compare.py, and one fwd+bwd's kernels under ncu;
#   4. configs/gpu_gdn.csv trained with `scalelab run --gpus 0` (run before
#      the error comparison and ncu, which matter less if time runs out).
# Logs go to $OUT/gdn (tarred to $OUT/gdn.tgz); the Triton cache fla filled
# goes to $OUT/triton_gdn.tgz, so a later call can carry it in .peers.
#   STEPS="tests errors bench ncu train" TS=1024,...,32768 scripts/device_gdn.sh
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/build-gpu/gdn-out}"
L="$OUT/gdn"
mkdir -p "$L"
PY="${PY:-/opt/torch/.venv/bin/python}"
BIN="$ROOT/.devcarry/bin"
STEPS="${STEPS:-tests errors bench ncu train}"
TS="${TS:-1024,2048,4096,8192,16384,32768}"
TORCH_LIB="$("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib"
export LD_LIBRARY_PATH="$ROOT/.devcarry/lib:$TORCH_LIB:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p /tmp/tc
for t in .peers/triton_autotune_h100.tgz .peers/triton_gdn.tgz; do [ -f "$t" ] && tar -xzf "$t" -C /tmp/tc; done
export TRITON_CACHE_DIR=/tmp/tc
has() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
# The logs are tarred again after every step, so a call cut short by its
# limit still brings back what finished.
stamp() { echo "== $1 at $(date +%T) (${SECONDS}s)"; rm -f "$L/text.txt"; tar -czf "$OUT/gdn.tgz" -C "$OUT" gdn; }

if has tests; then
  stamp tests
  rm -rf /tmp/gdn_cases
  SCALELAB_GDN_DUMP=/tmp/gdn_cases timeout "${TESTS_TIMEOUT:-150}" "$BIN/scalelab_kernels_cuda_tests" \
    --gtest_brief=1 --gtest_filter="${TESTS_FILTER:-*DeltaRule*:*scalar_B2_T1000*:*scalar_B2_T4096*:*CudaLinearAttnVarlen*}" \
    > "$L/tests.log" 2>&1
  echo "tests rc $?"; grep -E "PASSED|FAILED|rel|^B|^varlen" "$L/tests.log" | tail -40
fi
if has bench; then
  stamp bench
  timeout 120 "$BIN/bench_kernels" --families gdn --ds 64,128 --Ts "$TS" --json "$L/ours.json" 2>&1 | tee "$L/ours.log"
  # An earlier build carried beside it (bench_kernels_prev), timed in the same call.
  if [ -x "$BIN/bench_kernels_prev" ]; then
    timeout 60 "$BIN/bench_kernels_prev" --families gdn --ds 64,128 --Ts "$TS" --json "$L/prev.json" > "$L/prev.log" 2>&1
    cat "$L/prev.log"
  fi
  stamp peers
  PYTHONUNBUFFERED=1 OUT="$L" timeout "${PEERS_TIMEOUT:-200}" "$PY" .peers/bench_peers.py graph --ops fla_gated_delta \
    --ds 64,128 --Ts "$TS" --deadline "${PEER_DEADLINE:-170}" > "$L/peers.log" 2>&1
  tail -3 "$L/peers.log"
  "$PY" bench/kernels/compare.py "$L/ours.json" "$L/results_kernels_graph.json" | tee "$L/table.md"
  [ -f "$L/prev.json" ] && "$PY" bench/kernels/compare.py "$L/prev.json" "$L/results_kernels_graph.json" > "$L/table_prev.md"
fi
if has train; then
  stamp train
  export SCALELAB_DATA="$L/text.txt"
  python3 - "$SCALELAB_DATA" <<'PY'
import random, sys
random.seed(0)
open(sys.argv[1], 'w').write('\n'.join(' '.join('w%d' % random.randrange(5000) for _ in range(12))
                                        for _ in range(60000)) + '\n')
PY
  work="$(mktemp -d)"
  (cd "$work" && timeout "${TRAIN_TIMEOUT:-150}" "$BIN/scalelab" --db gpu.db plan "$ROOT/configs/gpu_gdn.csv" &&
     timeout "${TRAIN_TIMEOUT:-150}" "$BIN/scalelab" --db gpu.db run --gpus 0 &&
     "$BIN/scalelab" --db gpu.db status --runs) 2>&1 | grep -v " step [0-9]*/" > "$L/train.log"
  tail -20 "$L/train.log"
  cp "$work/gpu.db" "$L/" 2> /dev/null
  python3 - "$work/gpu.db" <<'PY' | tee "$L/throughput.txt"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print("arch | params | status | median tok/s (steps > 8) | final loss")
for arch, params, rid, status, loss in c.execute("select arch, params, id, status, final_loss from runs order by arch"):
    tps = sorted(r[0] for r in c.execute("select tokens_per_s from metrics where run_id=? and step>8", (rid,))
                 if isinstance(r[0], float))
    print(arch, "|", params, "|", status, "|", round(tps[len(tps) // 2]) if tps else "-", "|", loss)
PY
fi
if has errors && [ -d /tmp/gdn_cases ]; then
  stamp errors
  PYTHONUNBUFFERED=1 timeout "${ERRORS_TIMEOUT:-150}" "$PY" bench/kernels/gdn_fla_errors.py /tmp/gdn_cases .peers \
    --json "$L/errors.json" > "$L/errors.md" 2> "$L/errors.err"
  echo "errors rc $?"; cat "$L/errors.md"; tail -5 "$L/errors.err"
fi
if has ncu && command -v ncu > /dev/null; then
  stamp ncu
  timeout 60 ncu --clock-control none --metrics gpu__time_duration.sum "$BIN/bench_kernels" --families gdn \
    --Ts "${NCU_T:-4096}" --ds "${NCU_D:-128}" --warmup 0 --iters 1 --timing events > "$L/ncu.log" 2>&1
  "$PY" bench/kernels/ncu_summary.py "$L/ncu.log" | tee "$L/ncu.md"
fi
stamp done
[ "${SAVE_TRITON:-1}" = 1 ] && tar -czf "$OUT/triton_gdn.tgz" -C /tmp/tc . 2> /dev/null
ls -la "$OUT"
