#!/usr/bin/env bash
# The whole data flow on the built-in corpus, on the CPU:
# setup (if needed) -> build -> plan configs/demo.csv -> train every run -> fit -> report.
# Re-running resumes: finished runs are kept, interrupted ones continue.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/setup.sh"
source "$here/env.sh"
t0=$(date +%s)
bash "$here/build.sh" --target scalelab
t1=$(date +%s)
echo "demo: build took $((t1 - t0)) s"

work="${SCALELAB_DEMO_DIR:-$SCALELAB_ROOT/demo}"
mkdir -p "$work"
cd "$work"
bin="$SCALELAB_BUILD/cli/scalelab"
"$bin" --db demo.db plan "$SCALELAB_ROOT/configs/demo.csv"
# Two workers of one torch thread each: these models are too small for two
# threads to help one run, and one run waiting for its parent never idles both.
"$bin" --db demo.db run --workers 2
"$bin" --db demo.db status --runs
"$bin" --db demo.db fit --method all
"$bin" --db demo.db report --out "$work/report"
t2=$(date +%s)
echo "demo: sweep + fit + report took $((t2 - t1)) s"
echo "demo: report at $work/report/index.html"
