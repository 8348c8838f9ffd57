#!/usr/bin/env bash
# tools/main_job.sh - the README's main job: set-up, build, then the SVL-MNIST experiment
# (laptop preset, linking modality T) on the offline sources made from Debian packages, or
# on a data root given as the first argument (a folder with mnist/, fsdd/ and wine/).
#   bash tools/main_job.sh                 # offline default
#   bash tools/main_job.sh ../shared/data  # the real sources
# Extra arguments after the first go to `loretta svl-mnist run` (e.g. --preset tiny).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
JOBS=$(nproc)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$JOBS} OPENBLAS_NUM_THREADS=1
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$JOBS" --target loretta_cli
ROOT=${1:-}
[ $# -gt 0 ] && shift
OUT=${LORETTA_OUT:-out/svl-mnist}
if [ -z "$ROOT" ]; then
  ROOT=out/offline-sources
  ./build/apps/loretta svl-mnist offline-sources --out "$ROOT" --per-class 120
  OUT=${LORETTA_OUT:-out/svl-mnist-offline}
fi
./build/apps/loretta svl-mnist run --sources "$ROOT" --link T --preset laptop --out "$OUT" "$@"
echo "report: $OUT/link_T/report.md"
