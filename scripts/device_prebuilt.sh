#!/usr/bin/env bash
# Packs binaries built here (against the same torch 2.11 + CUDA 13 wheel the
# GPU machine has) with the Debian runtime libraries they need into a
# git-ignored folder that a device call carries, so that call spends no time
# building:  scripts/device_prebuilt.sh [DIR (.devcarry)] [targets...]
set -euo pipefail
source "$(dirname "$0")/env.sh"
DIR="${1:-$SCALELAB_ROOT/.devcarry}"
if [ $# -gt 0 ]; then shift; fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(scalelab bench_trainer test_train scalelab_kernels_cuda_tests bench_kernels)
bash "$SCALELAB_ROOT/scripts/build.sh" $(printf -- '--target %s ' "${targets[@]}") >/dev/null
rm -rf "$DIR" && mkdir -p "$DIR/bin" "$DIR/lib"
for t in "${targets[@]}"; do
  f="$(find "$SCALELAB_BUILD" -type f -name "$t" -perm -u+x | head -1)"
  [ -n "$f" ] || { echo "device_prebuilt: no binary for target $t" >&2; exit 1; }
  cp "$f" "$DIR/bin/"
done
# Everything they load that is neither torch's, CUDA's nor the C library's.
for f in "$DIR"/bin/*; do ldd "$f"; done | awk '/=> \// {print $3}' | sort -u |
  grep -Ev 'torch|nvidia|cuda|/libc\.|libm\.|libmvec|libdl\.|libpthread|librt\.|libutil|ld-linux|libstdc\+\+|libgcc_s' |
  while read -r lib; do cp -L "$lib" "$DIR/lib/"; done
du -sh "$DIR"
