#!/usr/bin/env bash
# Runs each libFuzzer target of the `asan` build for a bounded time from its
# seed corpus (tests/fuzz/corpus/TARGET), in a scratch folder:
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
cmake --build "$B" -j"$(nproc)" $(printf -- '--target fuzz_%s ' "${targets[@]}")
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
for t in "${targets[@]}"; do
  work="$B/fuzz/$t"
  rm -rf "$work" && mkdir -p "$work/corpus"
  # New inputs go to the scratch corpus; the stored seeds are only read.
  log="$work/fuzz.log"
  start=$(date +%s)
  if (cd "$work" && "$B/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=1024 -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/" \
        "$work/corpus" "$SCALELAB_ROOT/tests/fuzz/corpus/$t" > "$log" 2>&1); then
    verdict=ok
  else
    verdict="FAILED (input saved in $work/)"
    status=1
    tail -40 "$log" >&2
  fi
  execs="$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')"
  cov="$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')"
  echo "fuzz: $t: ${execs:-?} executions in $(( $(date +%s) - start )) s, coverage ${cov:-?} edges, $verdict"
done
exit $status
