#!/usr/bin/env bash
# A tiny CPU sweep through a real Slurm cluster (sbatch job arrays), one job
# scancel'ed mid-run: the scheduler submits it again and it resumes from its
# checkpoint. Fails if the runs were not trained by Slurm jobs.
#   test_slurm.sh SCALELAB_BINARY SOURCE_DIR
set -euo pipefail
BIN="$(realpath "$1")"
SRC="$(realpath "$2")"
fail() { echo "FAIL: $*" >&2; exit 1; }
bash "$SRC/scripts/slurm_cluster.sh" start
work="$(mktemp -d /tmp/scalelab_slurm_XXXXXX)"
SCHED=0
trap '[ "$SCHED" -gt 0 ] && kill "$SCHED" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
for i in $(seq 2000); do echo "the quick brown fox $((i % 97)) jumps over the lazy dog"; done > corpus.txt
# Two short runs and a long one (3000 steps) to cancel while it trains.
cat > s.csv <<CSV
name,arch,layers,d_model,heads,seq_len,tokens,batch_tokens,warmup,eval_every,eval_tokens,seed,data
short,softmax,1,8,1,8,192,32,1,6,32,0|1,$work/corpus.txt
long,softmax,1,16,1,16,192000,64,1,3000,64,0,$work/corpus.txt
CSV
"$BIN" plan s.csv --db s.db > /dev/null
q() { python3 -c "import sqlite3,sys; c=sqlite3.connect('s.db'); [print(*r, sep='|') for r in c.execute(sys.argv[1])]" "$1"; }
LONG="$(q "select id from runs where name = 'long'")"

"$BIN" --db s.db run --backend slurm --array-max 2 --poll 1 --heartbeat-every 1 \
  --stale-after 60 --checkpoint-every 0.2 --retry-backoff 0 --runs-dir runs > sched.log 2>&1 &
SCHED=$!
# Wait until the long run trains under Slurm and has a checkpoint, then cancel its job.
for _ in $(seq 600); do
  [ -f "runs/$LONG/checkpoint.pt" ] && grep -q '"e":"metrics"' "runs/$LONG/journal-1.jsonl" 2>/dev/null && break
  kill -0 "$SCHED" 2>/dev/null || { cat sched.log; fail "the scheduler exited early"; }
  sleep 0.2
done
[ -f "runs/$LONG/checkpoint.pt" ] || fail "the long run never checkpointed"
JOB="$(q "select worker from runs where id = '$LONG'")"
JOB="${JOB#slurm:}"
[[ "$JOB" =~ ^[0-9]+_[0-9]+$ ]] || fail "the long run's worker is '$JOB', not a Slurm array task"
squeue -h -r -o '%i %T' | grep -q "^$JOB RUNNING" || fail "squeue does not show $JOB running"
echo "scancel $JOB"
scancel "$JOB"
for _ in $(seq 1500); do kill -0 "$SCHED" 2>/dev/null || break; sleep 0.2; done
wait "$SCHED" || { cat sched.log; fail "the scheduler exited with $?"; }
SCHED=0
cat sched.log

# Every run done, each by a Slurm job that Slurm knows about.
[ "$(q "select count(*) from runs where status = 'done'")" = 3 ] || { q "select id, status, error from runs"; fail "not every run is done"; }
while IFS='|' read -r id env; do
  job="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("slurm_job", ""))' "$env")"
  [ -n "$job" ] || fail "run $id was not trained by a Slurm job (env: $env)"
  scontrol show job "$job" > /dev/null 2>&1 || fail "Slurm does not know job $job of run $id"
done < <(q "select id, env from runs")
grep -q "as Slurm array job" sched.log || fail "no sbatch submission in the scheduler's log"
# The cancelled run was submitted again and resumed from its checkpoint.
[ "$(q "select attempts from runs where id = '$LONG'")" = 2 ] || fail "the long run was not requeued once"
q "select token, worker, outcome, reason from leases where run_id = '$LONG'"
first="$(q "select outcome from leases where run_id = '$LONG' and token = 1")"
[ "$first" = released ] || [ "$first" = retry ] || fail "the cancelled lease ended '$first'"
grep -q "resuming at step" "runs/$LONG/train.log" || fail "the long run did not resume from its checkpoint"
steps="$(q "select count(*), max(step), count(distinct step) from metrics where run_id = '$LONG'")"
[ "$steps" = "100|3000|100" ] || fail "the long run's curve is '$steps', not 100 distinct rows up to 3000"
echo "slurm test: 3 runs done through sbatch, job $JOB cancelled, requeued and resumed"
