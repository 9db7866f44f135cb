#!/usr/bin/env bash
# Setup if needed, build, run every test; then the sanitizer build and the
# fuzzers (scripts/sanitize.sh). Prints which suites ran and fails when a suite
# the build should have is missing or ran no test (a build that lost LibTorch
# once passed with half the tests gone).
set -euo pipefail
here="$(dirname "$0")"
bash "$here/setup.sh"
source "$here/env.sh"
start=$(date +%s)
bash "$here/build.sh"
echo "test: build took $(( $(date +%s) - start )) s"

# Suites: tests/suites.txt of the build lists each as built or not (and why).
# Only an explicit -DSCALELAB_WITH_TORCH=OFF may leave the torch suites out;
# the CUDA device tests need nvcc, which CI has.
torch_off=0
case " ${SCALELAB_CMAKE_ARGS:-} " in *" -DSCALELAB_WITH_TORCH=OFF "*) torch_off=1 ;; esac
missing=()
built=()
while read -r name state why; do
  if [ "$state" = built ]; then
    built+=("$name")
  elif [ "$why" = no-torch ] && [ $torch_off = 1 ]; then
    echo "test: suite $name not built (SCALELAB_WITH_TORCH=OFF asked for)"
  else
    missing+=("$name ($why)")
  fi
done < "$SCALELAB_BUILD/tests/suites.txt"
if [ ${#missing[@]} -gt 0 ]; then
  echo "test: FAILED: suites the build should have are missing: ${missing[*]}" >&2
  exit 1
fi

# ctest runs one test process per core; LibTorch would start a thread per core
# in each; oversubscribed OpenMP pools made 0.3 s tests take minutes (seen here).
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
# The Slurm backend is tested on a real one-node cluster (slurm-wlm, munge).
slurm_start=$(date +%s)
bash "$here/slurm_cluster.sh" start
echo "test: Slurm cluster ready in $(( $(date +%s) - slurm_start )) s"
trap 'bash "$here/slurm_cluster.sh" stop' EXIT
start=$(date +%s)
ctest --test-dir "$SCALELAB_BUILD" --output-on-failure -j"$(nproc)" --timeout 900
echo "test: ctest took $(( $(date +%s) - start )) s"

# Every built suite must have registered tests (a discovery that found none, a
# label lost in CMake, would otherwise pass silently).
echo "test: suites that ran (tests each):"
empty=()
for name in "${built[@]}"; do
  n="$(ctest --test-dir "$SCALELAB_BUILD" -N -L "^${name}\$" | awk '/^Total Tests:/ {print $3}')"
  printf 'test:   %-32s %s\n' "$name" "${n:-0}"
  [ "${n:-0}" -gt 0 ] || empty+=("$name")
done
if [ ${#empty[@]} -gt 0 ]; then
  echo "test: FAILED: built suites with no test: ${empty[*]}" >&2
  exit 1
fi

if [ "${SCALELAB_TEST_ASAN:-1}" = 0 ]; then
  echo "test: sanitizer build and fuzzers NOT run (SCALELAB_TEST_ASAN=0)"
else
  bash "$here/sanitize.sh"
fi
