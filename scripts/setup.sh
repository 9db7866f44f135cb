#!/usr/bin/env bash
# Installs what scalelab needs, once: Debian -dev packages, LibTorch (from the
# pinned PyPI torch wheel, into a venv outside the checkout so every clone and
# CI reuse it) and the built-in corpus. A second run checks and returns in seconds.
set -euo pipefail

TORCH_VERSION="${SCALELAB_TORCH_VERSION:-2.11.0}"
CACHE="${SCALELAB_CACHE:-$HOME/.cache/scalelab}"
VENV="$CACHE/venv"
DATA="$CACHE/data"
DEBS=(cmake ninja-build g++ pkg-config ccache libsqlitecpp-dev libcli11-dev nlohmann-json3-dev
      libeigen3-dev libgtest-dev libgmock-dev libsqlite3-dev libspdlog-dev libfmt-dev
      libxxhash-dev liblbfgsb-dev libbenchmark-dev bible-kjv libcsv-dev libsentencepiece-dev
      clang libclang-rt-14-dev)  # clang: the ASan+UBSan build and libFuzzer (scripts/sanitize.sh)

say() { printf 'setup: %s\n' "$*"; }
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages present (${#DEBS[@]})"
fi

have_torch() {
  [ -x "$VENV/bin/python" ] &&
    [ "$("$VENV/bin/python" -c 'import importlib.metadata as m;print(m.version("torch"))' 2>/dev/null)" = "${TORCH_VERSION}" ]
}
if have_torch; then
  say "torch ${TORCH_VERSION} present in $VENV"
else
  say "installing torch==${TORCH_VERSION} (LibTorch + CMake config) into $VENV"
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "torch==${TORCH_VERSION}"
fi

# Built-in corpus: the King James Bible (public domain), from Debian's
# bible-kjv, stripped of verse references; one verse a line.
if [ ! -s "$DATA/kjv.txt" ]; then
  say "writing built-in corpus $DATA/kjv.txt"
  mkdir -p "$DATA"
  tmp="$(mktemp "$DATA/kjv.XXXX")"
  (cd "$DATA" && bible -f 'gen1:1-rev22:21') | sed -E 's/^[0-9A-Za-z]+[0-9]+:[0-9]+ //' > "$tmp"
  mv "$tmp" "$DATA/kjv.txt"
else
  say "corpus present: $DATA/kjv.txt ($(wc -c < "$DATA/kjv.txt") bytes)"
fi
