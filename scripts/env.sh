# Sourced by the other scripts: where setup put things, and the build folder.
SCALELAB_CACHE="${SCALELAB_CACHE:-$HOME/.cache/scalelab}"
SCALELAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCALELAB_BUILD="${SCALELAB_BUILD:-$SCALELAB_ROOT/build}"
export SCALELAB_DATA="${SCALELAB_DATA:-$SCALELAB_CACHE/data/kjv.txt}"
export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
# Relative paths in the cache key: a fresh clone elsewhere reuses the objects.
export CCACHE_BASEDIR="$SCALELAB_ROOT"
export CCACHE_NOHASHDIR=1
torch_prefix() { "$SCALELAB_CACHE/venv/bin/python" -c 'import torch;print(torch.utils.cmake_prefix_path)' 2>/dev/null; }
