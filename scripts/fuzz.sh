#!/usr/bin/env bash
# Runs each libFuzzer target of the `asan` build for a bounded time from its
# seed corpus (tests/fuzz/corpus/TARGET), as many at once as there are cores:
#   scripts/fuzz.sh [SECONDS per target (60)] [TARGET...]
# A crash, a hang (-timeout), an allocation above -malloc_limit_mb or an
# uncaught exception fails the script; the input is saved under
# $SCALELAB_BUILD_ASAN/fuzz/TARGET/ (copy it into tests/fuzz/regressions/TARGET/
# when fixing the bug: every build replays that folder).
set -euo pipefail
source "$(dirname "$0")/env.sh"
secs="${1:-60}"
if [ $# -gt 0 ]; then shift; fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(sheet descriptor points checkpoint)
B="${SCALELAB_BUILD_ASAN:-$SCALELAB_ROOT/build-asan}"
for t in "${targets[@]}"; do
  [ -x "$B/tests/fuzz/fuzz_$t" ] || { echo "fuzz: no $B/tests/fuzz/fuzz_$t (cmake --build $B)" >&2; exit 1; }
done
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

fuzz_one() {  # TARGET: runs it, prints one summary line, returns its status
  local t="$1" work="$B/fuzz/$1" start status=0 verdict=ok
  rm -rf "$work" && mkdir -p "$work/corpus"
  start=$(date +%s)
  # New inputs go to the scratch corpus; the stored seeds are only read.
  "$B/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/" \
    "$work/corpus" "$SCALELAB_ROOT/tests/fuzz/corpus/$t" > "$work/fuzz.log" 2>&1 || status=$?
  if [ $status -ne 0 ]; then
    verdict="FAILED (input saved in $work/)"
    tail -40 "$work/fuzz.log" >&2
  fi
  local execs cov
  execs="$(grep -m1 'stat::number_of_executed_units' "$work/fuzz.log" | awk '{print $2}')"
  cov="$(grep -Eo 'cov: [0-9]+' "$work/fuzz.log" | tail -1 | awk '{print $2}')"
  echo "fuzz: $t: ${execs:-?} executions in $(( $(date +%s) - start )) s, coverage ${cov:-?} edges, $verdict"
  return $status
}

status=0
pids=()
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$(nproc)" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
