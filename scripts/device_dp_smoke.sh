#!/usr/bin/env bash
# On a GPU machine, with binaries from scripts/device_prebuilt.sh: the
# data-parallel code path on one GPU. The same tiny run trained twice, by one
# plain process and by one NCCL rank (WORLD_SIZE=1, as torchrun starts it),
# and their losses compared step by step; each run's perf record says
# whether the step (all-reduces included) was replayed as a CUDA graph.
#   scripts/device_dp_smoke.sh [PREBUILT (.devcarry)]     logs to $OUT (or ./dp-logs)
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREBUILT="$(cd "${1:-$ROOT/.devcarry}" && pwd)"
LOG="${OUT:-$ROOT/dp-logs}"
mkdir -p "$LOG"
PY="${PY:-/opt/torch/.venv/bin/python}"
export LD_LIBRARY_PATH="$("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib:$PREBUILT/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
B="$PREBUILT/bin/scalelab"
work="$(mktemp -d)"
cd "$work"
"$PY" - corpus.txt <<'PY'
import random, sys
random.seed(0)
open(sys.argv[1], "w").write("\n".join(" ".join("w%d" % random.randrange(3000) for _ in range(12)) for _ in range(40000)) + "\n")
PY
# 300 steps of 16 x 256 tokens, softmax L4 d128.
cat > dp.csv <<EOF
name,arch,layers,d_model,heads,vocab,seq_len,tokens,batch_tokens,warmup,eval_every,eval_tokens,seed,data
dp,softmax,4,128,4,256,256,1228800,4096,20,100,16384,7,$work/corpus.txt
EOF
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$LOG/gpu.txt"
for db in plain nccl; do "$B" --db $db.db plan dp.csv >/dev/null || exit 1; done
id="$(sqlite3 plain.db 'select id from runs' 2>/dev/null || "$PY" -c 'import sqlite3;print(sqlite3.connect("plain.db").execute("select id from runs").fetchone()[0])')"
echo "run $id"
timeout 50 "$B" --db plain.db train "$id" --device cuda --run-dir plain_run > "$LOG/plain.log" 2>&1
echo "plain: exit $?"
RANK=0 LOCAL_RANK=0 WORLD_SIZE=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=29533 NCCL_DEBUG=WARN \
  timeout 50 "$B" --db nccl.db train "$id" --device cuda --run-dir nccl_run > "$LOG/nccl.log" 2>&1
echo "nccl world 1: exit $?"
"$PY" - "$id" <<'PY' | tee "$LOG/compare.txt"
import json, sqlite3, sys
rid = sys.argv[1]
def load(db):
    c = sqlite3.connect(db)
    rows = c.execute("select step, train_loss, val_loss from metrics where run_id=? order by step", (rid,)).fetchall()
    status, perf = c.execute("select status, perf from runs where id=?", (rid,)).fetchone()
    return rows, status, json.loads(perf or "{}")
a, sa, pa = load("plain.db")
b, sb, pb = load("nccl.db")
print("status plain", sa, "nccl", sb, "| rows", len(a), len(b))
def num(x):
    try: return float(x)
    except (TypeError, ValueError): return None
d = max((abs(num(x[1]) - num(y[1])) for x, y in zip(a, b) if num(x[1]) is not None and num(y[1]) is not None), default=float("nan"))
print("max |train loss plain - nccl| over %d rows: %.3g" % (min(len(a), len(b)), d))
if a and b: print("last row plain", a[-1], "nccl", b[-1])
keys = ["world_size", "dist_backend", "cuda_graph", "cuda_graph_error", "tokens_per_s", "grad_buckets",
        "grad_buckets_started_in_backward", "micro_batch", "accumulation", "peak_memory_bytes", "device"]
for name, p in (("plain", pa), ("nccl", pb)):
    print(name, {k: p.get(k) for k in keys if k in p})
PY
cp plain.db nccl.db "$LOG/" 2>/dev/null
tail -5 "$LOG/nccl.log"
