#!/usr/bin/env bash
# On a GPU machine (after scripts/device_build.sh): `run --gpus 0 --runs-per-gpu 4`
# packs small runs onto one GPU by the planner's memory estimate. Checks, from
# the lease log, that 4 runs trained at once and no more, that every run is done,
# that a run too big for the GPU fails with the numbers, and that a GPU that
# does not exist is refused. Results to $OUT (or build-gpu/logs)/packing.txt.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LOG_DIR="${LOG_DIR:-${OUT:-$ROOT/build-gpu/logs}}"
mkdir -p "$LOG_DIR"
B="$ROOT/build-gpu/cli/scalelab"
export LD_LIBRARY_PATH="/tmp/deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
work="$(mktemp -d)"
cd "$work"
for i in $(seq 20000); do echo "line $i of a corpus for the packing check"; done > corpus.txt
cat > pack.csv <<CSV
name,arch,layers,d_model,heads,seq_len,tokens,batch_tokens,eval_every,eval_tokens,seed,data
small,softmax,4,256,4,256,20M,32768,1000,8192,0..7+1,$work/corpus.txt
huge,softmax,48,8192,64,4096,1B,4194304,1000,8192,0,$work/corpus.txt
CSV
"$B" --db p.db plan pack.csv --gpu-memory 140 | tail -4 | tee "$LOG_DIR/packing.txt"
set +e
"$B" --db p.db run --gpus 0,9 2>&1 | tail -1 | tee -a "$LOG_DIR/packing.txt"
"$B" --db p.db run --gpus 0 --runs-per-gpu 4 -q --yes 2>&1 | tail -3 | tee -a "$LOG_DIR/packing.txt"
set -e
python3 - p.db <<'PY' | tee -a "$LOG_DIR/packing.txt"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
ev = []
for rid, a, b in c.execute("select run_id, claimed_at, ended_at from leases"):
    ev += [(a, 1), (b or "9", -1)]
cur = peak = 0
for _, d in sorted(ev):
    cur += d
    peak = max(peak, cur)
print("runs at once (peak):", peak)
for name, status, n, err in c.execute("select name, status, count(*), max(error) from runs group by name, status"):
    print(name, status, n, (err or "")[:160])
PY
