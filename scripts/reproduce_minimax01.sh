#!/usr/bin/env bash
# MiniMax-01's architecture comparison at small scale (configs/reproduce_minimax01.csv),
# in four steps; the working folder is .minimax01/ (git-ignored):
#
#   scripts/reproduce_minimax01.sh data        here: the corpus (Debian packages ->
#        .minimax01/corpus/*.jsonl), a BPE 8192 tokenizer trained on it and the shard
#        set .minimax01/shards; .minimax01/carry/ gets what a GPU host needs to make the
#        same shards (the corpus as .tar.xz, tokenizer.model, the shards' checksums)
#   scripts/reproduce_minimax01.sh plan        here: plans the sheet into
#        .minimax01/carry/minimax01.db and prints its GPU-hours (MFU from $MFU, 0.2)
#   scripts/reproduce_minimax01.sh gpu STAGE.. on the GPU host (the device call carries
#        .devcarry and .minimax01/carry): makes the shards again and checks they are
#        bit-identical, trains each STAGE with `scalelab run --gpus 0`, evaluates it
#        (MQAR on its recall runs, S-NIAH and loss by position on each architecture's
#        largest model) and copies the database to $OUT after every stage
#   scripts/reproduce_minimax01.sh report      here: fit + report from the database
#        into results/minimax01/ (the database is committed there), and the same for
#        each follow-up sheet's database (configs/minimax01_*.csv)
#
# A stage is trained completely inside one call: branches start from their
# parents' checkpoints, which stay on the GPU host. Run weights and checkpoints
# are deleted once a stage is evaluated (they are 0.1-0.5 GB a run).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
W=.minimax01
DB="${DB:-$W/carry/minimax01.db}"
SHEET="${SHEET:-configs/reproduce_minimax01.csv}"
RESULTS=results/minimax01
PKGS=(bible-kjv dict-gcide linux-doc-6.1 python3.11-doc perl-doc fortunes)
say() { printf 'reproduce_minimax01: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

bin() {
  if [ -n "${SCALELAB_BIN:-}" ]; then echo "$SCALELAB_BIN"
  elif [ -x .devcarry/bin/scalelab ] && [ "${1:-}" = gpu ]; then echo "$ROOT/.devcarry/bin/scalelab"
  else echo "$ROOT/build/cli/scalelab"; fi
}

shard_sums() { python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
for s in m["shards"]: print(s["file"], s["tokens"], s["xxh3"])' "$1/manifest.json"; }

cmd_data() {
  local S; S="$(bin)"
  [ -x "$S" ] || die "$S missing: run scripts/build.sh first"
  bash scripts/setup.sh > /dev/null  # the KJV text (bible-kjv) and the build's packages
  mkdir -p "$W/debs" "$W/pkgs" "$W/carry"
  for p in "${PKGS[@]:1}"; do
    ls "$W/debs/${p}_"*.deb > /dev/null 2>&1 || (cd "$W/debs" && apt-get download -q "$p" > /dev/null)
    ls -d "$W/pkgs/${p}_"* > /dev/null 2>&1 || dpkg -x "$W"/debs/"${p}"_*.deb "$W/pkgs/$(basename "$W"/debs/"${p}"_*.deb .deb)"
  done
  python3 scripts/minimax01_corpus.py "$W/pkgs" "$W/corpus"
  rm -rf "$W/shards"
  "$S" data prepare "$W/corpus" --out "$W/shards" --tokenizer bpe --train-tokenizer 8192 \
    --val-fraction 0.01 --tokenizer-lines 4000000
  cp "$W/shards/tokenizer.model" "$W/carry/tokenizer.model"
  shard_sums "$W/shards" > "$W/carry/shards.sums"
  tar -C "$W" -cf - corpus | xz -T0 -6 > "$W/carry/corpus.tar.xz"
  say "carry: $(du -sh "$W/carry" | cut -f1) in $W/carry"
}

cmd_plan() {
  local S; S="$(bin)"
  [ -f "$W/shards/manifest.json" ] || die "$W/shards missing: run '$0 data' first"
  "$S" --db "$DB" plan "$SHEET" --gpu-memory 139 --gpu-peak-flops 989e12 --mfu "${MFU:-0.2}"
}

# The runs of STAGE to evaluate: KIND mqar, every finished MQAR run; KIND lm,
# per architecture, the final branch (most tokens) of the largest language model.
eval_runs() { python3 - "$DB" "$1" "$2" <<'PY'
import json, os, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
stage, kind = sys.argv[2], sys.argv[3]
best, mqar = {}, []
for rid, arch, spec, n, tokens in c.execute(
        "select id, arch, spec, nonembedding_params, tokens from runs "
        "where stage = ? and status = 'done' order by id", (stage,)):
    if json.loads(spec).get("task", "lm") == "mqar":
        mqar.append(rid)
    elif c.execute("select 1 from runs where parent_id = ?", (rid,)).fetchone():
        pass  # a WSD parent is not a model of its own: its branches are
    elif os.environ.get("EVAL_ALL"):  # every language model of the stage
        best[rid] = ((n, tokens), rid)
    else:
        if arch not in best or (n, tokens) > best[arch][0]:
            best[arch] = ((n, tokens), rid)
print(" ".join(mqar if kind == "mqar" else [r for _, r in best.values()]))
PY
}

cmd_gpu() {
  [ $# -gt 0 ] || die "gpu: name the stages to train (pure hybrid7 hybrid3)"
  local S; S="$(bin gpu)"
  local out="${OUT:-$W/out}"
  mkdir -p "$out"
  if [ -x .devcarry/bin/scalelab ]; then
    local py="${PY:-/opt/torch/.venv/bin/python}" lib
    lib="$("$py" -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib"
    export LD_LIBRARY_PATH="$ROOT/.devcarry/lib:$lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  [ -f "$DB" ] || die "$DB missing: run '$0 plan' here and carry $W/carry"
  if [ ! -f "$W/shards/manifest.json" ]; then
    say "shards from the carried corpus ($(date +%T))"
    rm -rf "$W/corpus" && tar -C "$W" -xJf "$W/carry/corpus.tar.xz"
    "$S" data prepare "$W/corpus" --out "$W/shards" --tokenizer "$W/carry/tokenizer.model" \
      --val-fraction 0.01 --quiet
  fi
  shard_sums "$W/shards" | cmp -s - "$W/carry/shards.sums" ||
    die "$W/shards differ from the shards planned with ($W/carry/shards.sums)"
  for stage in "$@"; do
    say "stage $stage: training ($(date +%T), ${SECONDS}s)"
    local rc=0
    timeout -s INT "${STAGE_TIMEOUT:-560}" "$S" --db "$DB" run ${RUN_ARGS:---gpus 0 --runs-per-gpu 3} \
      --stage "$stage" --runs-dir "$W/runs" -y 2>&1 | grep -v " step [0-9]*/" | tee -a "$out/train_$stage.log" || rc=$?
    say "stage $stage: run exited $rc ($(date +%T), ${SECONDS}s)"
    cp "$DB" "$out/"
    say "stage $stage: evals"
    local ids
    ids="$(eval_runs "$stage" mqar)"
    # shellcheck disable=SC2086
    [ -z "$ids" ] || "$S" --db "$DB" eval $ids --tasks mqar --runs-dir "$W/runs" 2>&1 |
      tee -a "$out/eval_$stage.log" || true
    ids="$(eval_runs "$stage" lm)"
    # shellcheck disable=SC2086
    for id in $ids; do  # one at a time: a failing model must not cost the others' evals
      CUDA_LAUNCH_BLOCKING="${EVAL_LAUNCH_BLOCKING:-0}" "$S" --db "$DB" eval "$id" --tasks sniah,position --samples "${NIAH_SAMPLES:-4}" \
        --runs-dir "$W/runs" 2>&1 | tee -a "$out/eval_$stage.log" || true
    done
    cp "$DB" "$out/"
    "$S" --db "$DB" status | tee "$out/status_$stage.txt"
    rm -rf "$W/runs"  # weights and checkpoints: the stage is done with them
  done
}

# The main database, then the follow-ups' (each its own sheet and database in
# $W/carry, trained with DB=$W/carry/NAME.db ... gpu STAGE): every one that
# exists is copied into results/minimax01/, fitted and reported beside it.
FOLLOWUPS=(softmax_tuned probe mqar)
cmd_report() {
  local S; S="$(bin)"
  [ -f "$DB" ] || die "$DB missing"
  mkdir -p "$RESULTS"
  cp "$DB" "$RESULTS/minimax01.db"
  "$S" --db "$RESULTS/minimax01.db" fit --method all
  "$S" --db "$RESULTS/minimax01.db" report --out "$RESULTS/report"
  for f in "${FOLLOWUPS[@]}"; do
    [ -f "$W/carry/$f.db" ] || continue
    cp "$W/carry/$f.db" "$RESULTS/$f.db"
    "$S" --db "$RESULTS/$f.db" fit --method all > "$RESULTS/$f.fit.txt" 2>&1 || true
    "$S" --db "$RESULTS/$f.db" report --out "$RESULTS/report_$f"
  done
}

case "${1:-}" in
  data) cmd_data ;;
  plan) cmd_plan ;;
  gpu) shift; cmd_gpu "$@" ;;
  report) cmd_report ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
