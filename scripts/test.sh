#!/usr/bin/env bash
# Setup if needed, build, run every test.
set -euo pipefail
here="$(dirname "$0")"
bash "$here/setup.sh"
source "$here/env.sh"
start=$(date +%s)
bash "$here/build.sh"
echo "test: build took $(( $(date +%s) - start )) s"
# ctest runs one test process per core; LibTorch would start a thread per core
# in each; oversubscribed OpenMP pools made 0.3 s tests take minutes (seen here).
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
# The Slurm backend is tested on a real one-node cluster (slurm-wlm, munge).
slurm_start=$(date +%s)
bash "$here/slurm_cluster.sh" start
echo "test: Slurm cluster ready in $(( $(date +%s) - slurm_start )) s"
trap 'bash "$here/slurm_cluster.sh" stop' EXIT
ctest --test-dir "$SCALELAB_BUILD" --output-on-failure -j"$(nproc)" --timeout 900
