#!/usr/bin/env bash
# On a GPU machine: real training data end to end, and proof that the loader
# never stalls a step.
#   1. builds scalelab, the data benchmarks and the data/trainer tests
#      (scripts/device_build.sh; .debs/ must hold libsentencepiece0 and
#      libsentencepiece-dev besides the other -dev packages), runs the data tests;
#   2. generates a ~100 MB text corpus and prepares it with `scalelab data
#      prepare` twice: byte-level, and a SentencePiece BPE of vocab 32000
#      trained on it (throughput and peak memory of each in prepare_*.log);
#   3. bench_loader: tokens/s one core writes into pinned buffers;
#   4. plans and trains a sheet whose data is the BPE shards (vocab left blank:
#      the planner takes it from the manifest) with `scalelab run --gpus 0`;
#   5. bench_stall: median step time of the trainer's step (train/step.h) fed
#      from the shards through the trainer's input pipeline (train/prefetch.h,
#      TokenData::batch_into into pinned buffers) vs. one fixed batch on the
#      GPU, for GPT-2 small and a small model whose steps are short; PASS when
#      within 2%.
# Everything goes to $OUT (or build-gpu/logs); a summary is printed at the end.
#   scripts/device_data_check.sh [--prebuilt]   (--prebuilt: reuse build-gpu/)
# Takes about 6-8 minutes on one H200 including the build (1-2 without it).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
LOG_DIR="${LOG_DIR:-${OUT:-$ROOT/build-gpu/logs}}"
mkdir -p "$LOG_DIR"
# A failed step is named and fails the script at the end, after the later
# steps have written their logs.
failed=()
fail() { echo "device_data_check: FAILED: $*" >&2; failed+=("$*"); }
if [ "${1:-}" != "--prebuilt" ]; then
  ls .debs/libsentencepiece-dev_*.deb .debs/libsentencepiece0_*.deb >/dev/null 2>&1 || {
    echo "device_data_check: .debs/ lacks libsentencepiece0 / libsentencepiece-dev:" >&2
    echo "  (cd .debs && apt-get download libsentencepiece0 libsentencepiece-dev)" >&2
    exit 2
  }
  SKIP_TESTS=1 LOG_DIR="$LOG_DIR" bash scripts/device_build.sh scalelab data_test test_train \
    bench_loader bench_stall
fi
export LD_LIBRARY_PATH="/tmp/deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
B="$ROOT/build-gpu"
S="$B/cli/scalelab"
work="$(mktemp -d)"
export SCALELAB_CACHE="$work/cache"

# 1. The data tests (the 1 GiB memory test included) and the trainer's data tests.
(timeout 120 "$B/tests/data/data_test" && timeout 120 "$B/tests/train/test_train" --gtest_filter='Data*') \
  > "$LOG_DIR/data_tests.log" 2>&1 && echo "data tests: passed" || fail "data tests (data_tests.log)"
grep -E "^\[  (PASSED|FAILED) " "$LOG_DIR/data_tests.log" || fail "data tests printed no PASSED/FAILED line"

# 2. A generated corpus: ~100 MB of English-like paragraphs in 32 files.
python3 - "$work/corpus" <<'PY'
import os, random, sys
random.seed(0)
out = sys.argv[1]; os.makedirs(out)
dict_words = '/usr/share/dict/words'
if os.path.exists(dict_words):
    words = [w for w in open(dict_words).read().split() if w.isalpha()][:60000]
else:
    syl = [a + b for a in 'bcdfghklmnprstvw' for b in 'aeiou']
    words = [''.join(random.choice(syl) for _ in range(random.randint(1, 4))) for _ in range(60000)]
cum, total = [], 0.0
for i in range(len(words)):  # Zipf-like word frequencies
    total += 1.0 / (i + 1); cum.append(total)
for f in range(32):
    with open(os.path.join(out, 'part_%02d.txt' % f), 'w') as fh:
        size = 0
        while size < 100e6 / 32:
            para = ' '.join(random.choices(words, cum_weights=cum, k=random.randint(40, 400))).capitalize() + '.\n\n'
            fh.write(para); size += len(para)
PY
for tok in byte bpe; do
  extra=(); [ "$tok" = bpe ] && extra=(--train-tokenizer 32000 --tokenizer-lines 1000000)
  "$S" data prepare "$work/corpus" --out "$work/shards_$tok" --tokenizer "$tok" \
    "${extra[@]}" --text-docs paragraph > "$LOG_DIR/prepare_$tok.log" 2>&1 || { tail -5 "$LOG_DIR/prepare_$tok.log"; exit 1; }
  grep -E "^$work/shards_$tok:" "$LOG_DIR/prepare_$tok.log"  # tokens, MB/s, peak memory
done
cp "$work/shards_bpe/manifest.json" "$LOG_DIR/manifest_bpe.json"

# 3. Loader throughput into pinned buffers, one core.
timeout 120 "$B/bench/data/bench_loader" "$work/loader" 1 | tee "$LOG_DIR/bench_loader.log"

# 4. A sweep trained from the shards (vocab from the manifest).
cat > "$work/gpu_data.csv" <<CSV
name,arch,layers,d_model,heads,vocab,seq_len,tokens,batch_tokens,lr,warmup,eval_every,eval_tokens,data
shards,softmax|lightning,12,768,12,,1024,1048576,16384,6e-4,8,32,65536,shards:$work/shards_bpe
CSV
(cd "$work" && "$S" --db data.db plan gpu_data.csv && "$S" --db data.db run --gpus 0 \
   && "$S" --db data.db status --runs) 2>&1 | grep -v " step [0-9]*/" | tee "$LOG_DIR/gpu_data_sweep.log" \
  || fail "sweep from shards (gpu_data_sweep.log)"
if [ -f "$work/data.db" ]; then cp "$work/data.db" "$LOG_DIR/"; else fail "no data.db was written"; fi

# 5. Does the loader stall a step? Shards vs. a fixed batch on the GPU.
status=0
for cfg in "softmax:L12:d768:h12:v32000:T1024 16" "softmax:L4:d256:h4:v32000:T1024 16"; do
  set -- $cfg
  timeout 240 "$B/bench/data/bench_stall" "shards:$work/shards_bpe" "$1" "$2" 50 \
    | tee -a "$LOG_DIR/bench_stall.log" || status=1
done
echo "device_data_check: logs in $LOG_DIR; stall check $([ $status = 0 ] && echo PASS || echo FAIL)"
[ $status = 0 ] || fail "loader stall check (bench_stall.log)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "device_data_check: ${#failed[@]} step(s) failed: ${failed[*]}" >&2
  exit 1
fi
