#!/usr/bin/env bash
# On a GPU machine: build scalelab, run the trainer tests on the GPU, train
# configs/gpu_smoke.csv (every architecture, one GPU) and, when .peers/ holds
# bench_peers.py, the PyTorch eager training anchor in the same call.
# Logs, the database and per-run throughput go to $OUT (or build-gpu/logs).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
LOG_DIR="${LOG_DIR:-${OUT:-$ROOT/build-gpu/logs}}"
mkdir -p "$LOG_DIR"
# Each step that fails is named and makes the script fail at the end, after the
# later steps have still written their logs.
failed=()
fail() { echo "device_smoke: FAILED: $*" >&2; failed+=("$*"); }
SKIP_TESTS=1 LOG_DIR="$LOG_DIR" bash scripts/device_build.sh scalelab test_train
export LD_LIBRARY_PATH="/tmp/deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export SCALELAB_DATA="$LOG_DIR/kjv.txt"
# The built-in corpus is made by setup.sh from Debian's bible-kjv, which the GPU
# machine lacks; any text works for a throughput check, so make one.
python3 - "$SCALELAB_DATA" <<'PY'
import sys, random
random.seed(0)
words = open('/usr/share/dict/words').read().split() if __import__('os').path.exists('/usr/share/dict/words') else None
lines = []
for i in range(60000):
    lines.append(' '.join(random.choice(words) if words else 'w%d' % random.randrange(5000) for _ in range(12)))
open(sys.argv[1], 'w').write('\n'.join(lines) + '\n')
PY
timeout 200 ./build-gpu/tests/train/test_train > "$LOG_DIR/test_train.log" 2>&1 || fail "test_train (exit $?)"
tail -8 "$LOG_DIR/test_train.log"
work="$(mktemp -d)"
B="$ROOT/build-gpu/cli/scalelab"
(cd "$work" && "$B" --db gpu.db plan "$ROOT/configs/gpu_smoke.csv" && "$B" --db gpu.db run --gpus 0 \
   && "$B" --db gpu.db status --runs) 2>&1 | grep -v " step [0-9]*/" | tee "$LOG_DIR/gpu_smoke.log" \
  || fail "gpu_smoke.csv sweep (gpu_smoke.log)"
if [ -f "$work/gpu.db" ]; then cp "$work/gpu.db" "$LOG_DIR/"; else fail "no gpu.db was written"; fi
[ -f "$work/gpu.db" ] && python3 - "$work/gpu.db" <<'PY' | tee "$LOG_DIR/throughput.txt"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print("arch | params | median tok/s (steps 9-64) | final val loss")
for arch, params, rid, loss in c.execute("select arch, params, id, final_loss from runs order by arch"):
    tps = sorted(r[0] for r in c.execute("select tokens_per_s from metrics where run_id=? and step>8", (rid,)) if isinstance(r[0], float))
    print(arch, "|", params, "|", round(tps[len(tps)//2]) if tps else "-", "|", loss)
PY
if [ -f .peers/bench_peers.py ]; then
  OUT="$LOG_DIR" timeout 150 /opt/torch/.venv/bin/python .peers/bench_peers.py train_eager --steps 30 \
    > "$LOG_DIR/peer_train_eager.log" 2>&1 || fail "peer train_eager (peer_train_eager.log)"
  tail -5 "$LOG_DIR/peer_train_eager.log"
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "device_smoke: ${#failed[@]} step(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "device_smoke: every step passed"
